package report

import "testing"

func TestTableShowsEverySideAndItsRatioToTheBaseline(t *testing.T) {
	sides := []Side{{"A", "generated (A)"}, {"B", "bare (B)"}, {"P", "peer (P)"}}
	f := &Figure{Name: "CPU", Unit: "µs", Digits: 1, Target: RatioAtMost(1.2, "≤ 1.2× B")}
	for _, v := range []float64{11, 12, 13} {
		f.Add("A", v)
		f.Add("B", v-2)
		f.Add("P", 2*v)
	}
	lost := &Figure{Name: "lost", Target: AtMost(0, "0")}
	lost.Add("A", 0)
	lost.Add("B", 50)
	lost.Add("P", 49)
	got := Table([]*Figure{f, lost}, sides)
	want := "| figure | generated (A) | bare (B) | peer (P) | A/B | P/B | target | met |\n" +
		"|---|---|---|---|---|---|---|---|\n" +
		"| CPU | 12.0 µs (11.0–13.0) | 10.0 µs (9.0–11.0) | 24.0 µs (22.0–26.0) | 1.20× | 2.40× | ≤ 1.2× B | yes |\n" +
		"| lost | 0 | 50 | 49 | 0.00× | 0.98× | 0 | yes |\n"
	if got != want {
		t.Errorf("Table:\n%s\nwant:\n%s", got, want)
	}
}
