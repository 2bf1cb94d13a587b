package report

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"slices"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
)

var (
	white  = color.RGBA{255, 255, 255, 255}
	shade  = color.RGBA{238, 242, 248, 255}
	grid   = color.RGBA{200, 200, 200, 255}
	ink    = color.RGBA{40, 40, 40, 255}
	okCol  = color.RGBA{76, 153, 96, 255}
	badCol = color.RGBA{214, 39, 40, 255}
	p99Col = color.RGBA{31, 119, 180, 255}
	expCol = color.RGBA{255, 160, 40, 255}
	resCol = color.RGBA{148, 103, 189, 255}
)

// Timeline draws one scenario as a PNG, one column per second: successes
// (green), failures (red) and a hard kill's or a partition's expected
// failures (orange), stacked, with failures never hidden however few; stream
// resumes (purple ticks, and red ones for a lost or repeated event) under
// them; p99 latency on a log scale below; and the phases as numbered, shaded
// bands with a legend, so a person sees where in which disruption a failure
// or a latency spike happened.
func Timeline(path string, sc *Scenario, samples []load.Sample, events []load.StreamEvent) error {
	secs := int(math.Ceil(sc.Duration.Seconds()))
	if secs == 0 {
		return nil
	}
	ok, bad, exp := make([]int, secs), make([]int, secs), make([]int, secs)
	resumes, broken := make([]int, secs), make([]int, secs)
	lat := make([][]time.Duration, secs)
	phaseAt := func(at time.Duration) *Phase {
		for i := range sc.Phases {
			if p := &sc.Phases[i]; at >= p.Start && at < p.End {
				return p
			}
		}
		return nil
	}
	for _, s := range samples {
		i := int(s.At / time.Second)
		if i < 0 || i >= secs {
			continue
		}
		switch p := phaseAt(s.At); {
		case s.OK:
			ok[i]++
			lat[i] = append(lat[i], s.Latency)
		case p != nil && sc.expected(p, s):
			exp[i]++
		default:
			bad[i]++
		}
	}
	for _, e := range events {
		i := int(e.At / time.Second)
		if i < 0 || i >= secs {
			continue
		}
		switch e.Kind {
		case load.StreamResume:
			resumes[i]++
		case load.StreamGap, load.StreamDuplicate, load.StreamEnded:
			broken[i]++
		}
	}
	legend := phaseLegend(sc.Phases, 160)
	for _, f := range sc.Paths() {
		legend = append(legend, fmt.Sprintf("%s tier by %s: %d requests, %d failed, %d expected", f.Tier, f.Path, f.Requests, f.Failed, f.Expected))
	}
	const (
		w, left, right = 1200, 60, 20
		top, countH    = 30, 200
		gap, latH      = 40, 140
		bottom         = 30
		lineH          = 15
	)
	h := top + countH + gap + latH + bottom + lineH*len(legend) + 8
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	plotW := w - left - right
	x := func(sec float64) int { return left + int(sec/float64(secs)*float64(plotW)) }
	fill := func(x0, y0, x1, y1 int, c color.Color) {
		draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
	}
	text := func(px, py int, c color.Color, s string) {
		d := &font.Drawer{Dst: img, Src: &image.Uniform{c}, Face: basicfont.Face7x13, Dot: fixed.P(px, py)}
		d.DrawString(s)
	}

	// Phases: alternate shading and a label at the top of each band.
	for i, p := range sc.Phases {
		x0, x1 := x(p.Start.Seconds()), x(p.End.Seconds())
		if i%2 == 1 {
			fill(x0, top, x1, top+countH+gap+latH, shade)
		}
		label := fmt.Sprint(i + 1)
		if p.Failed > 0 {
			label += fmt.Sprintf(" (%d failed)", p.Failed)
		}
		if room := (x1 - x0) / 7; len(label) > room && room > 0 {
			label = label[:room]
		}
		text(x0+2, top+countH+gap-8, ink, label)
	}
	for i, l := range legend {
		text(left, top+countH+gap+latH+bottom+lineH*(i+1), ink, l)
	}

	// Counts per second.
	maxCount := 1
	for i := range secs {
		maxCount = max(maxCount, ok[i]+bad[i]+exp[i])
	}
	base := top + countH
	for i := range secs {
		x0 := x(float64(i))
		colW := max(1, x(float64(i+1))-x0)
		hOK := ok[i] * countH / maxCount
		hBad := bad[i] * countH / maxCount
		if bad[i] > 0 {
			hBad = max(hBad, 3)
		}
		hExp := exp[i] * countH / maxCount
		if exp[i] > 0 {
			hExp = max(hExp, 3)
		}
		fill(x0, base-hOK, x0+colW, base, okCol)
		fill(x0, base-hOK-hExp, x0+colW, base-hOK, expCol)
		fill(x0, base-hOK-hExp-hBad, x0+colW, base-hOK-hExp, badCol)
		switch {
		case broken[i] > 0:
			fill(x0, base+4, x0+max(colW, 2), base+16, badCol)
		case resumes[i] > 0:
			fill(x0, base+4, x0+max(colW, 2), base+12, resCol)
		}
	}
	fill(left, base, w-right, base+1, ink)
	// Phase boundaries across the counts, where the shading is covered.
	for _, p := range sc.Phases[1:] {
		fill(x(p.Start.Seconds()), top, x(p.Start.Seconds())+1, top+countH+gap+latH, ink)
	}
	text(4, top+10, ink, fmt.Sprintf("%d/s", maxCount))
	text(left, top-10, ink, fmt.Sprintf("%s: requests/s (green ok, red failed, orange expected in a hard kill or partition); purple ticks: stream resumes; p99 latency/s (log)", sc.Name))

	// p99 per second, log scale from 0.1 ms to 2 s.
	lo, hi := math.Log10(0.1), math.Log10(2000)
	latBase := top + countH + gap + latH
	y := func(ms float64) int {
		v := (math.Log10(math.Max(ms, 0.1)) - lo) / (hi - lo)
		return latBase - int(math.Min(1, v)*latH)
	}
	for _, ms := range []float64{1, 10, 100, 1000} {
		fill(left, y(ms), w-right, y(ms)+1, grid)
		text(4, y(ms)+4, ink, fmt.Sprintf("%g ms", ms))
	}
	prevX, prevY := -1, 0
	for i := range secs {
		if len(lat[i]) == 0 {
			prevX = -1
			continue
		}
		l := slices.Clone(lat[i])
		slices.Sort(l)
		ms := float64(l[int(0.99*float64(len(l)-1))].Microseconds()) / 1000
		cx, cy := x(float64(i)+0.5), y(ms)
		if prevX >= 0 {
			line(img, prevX, prevY, cx, cy, p99Col)
		}
		fill(cx-1, cy-1, cx+2, cy+2, p99Col)
		prevX, prevY = cx, cy
	}
	fill(left, latBase, w-right, latBase+1, ink)
	for s := 0; s <= secs; s += 30 {
		text(x(float64(s))-8, latBase+16, ink, fmt.Sprintf("%ds", s))
	}

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("timeline: encode: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	return nil
}

// phaseLegend lists the phases by number, in lines of at most width
// characters.
func phaseLegend(phases []Phase, width int) []string {
	var lines []string
	cur := ""
	for i, p := range phases {
		item := fmt.Sprintf("%d %s", i+1, p.Name)
		switch {
		case cur == "":
			cur = item
		case len(cur)+2+len(item) > width:
			lines = append(lines, cur)
			cur = item
		default:
			cur += ", " + item
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// line draws a straight line (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
