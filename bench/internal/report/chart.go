package report

import (
	"fmt"
	"image/color"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/zerodrop/zerodrop/bench/internal/stats"
)

// Panel is one chart of the figure: a bar for every side, side by side, for
// each of its figures, which must share a unit.
type Panel struct {
	Title, YLabel string
	Figures       []*Figure
	// Labels name the figures under their bars.
	Labels []string
	// Legend shows which colour is which side.
	Legend bool
}

// colours are the sides' colours in order: A blue and B orange, as in every
// chart so far, then the Okabe–Ito palette's green, reddish purple, sky blue
// and vermilion, which stay apart for the common colour-vision deficiencies.
var colours = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff},
	color.RGBA{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff},
	color.RGBA{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff},
	color.RGBA{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff},
}

// Chart draws the panels in a grid of cols columns and writes it as a PNG:
// bars are medians, whiskers span min to max, one bar per side in the order
// given.
func Chart(path, title string, sides []Side, panels []Panel, cols int) error {
	rows := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		for j := range grid[i] {
			grid[i][j] = plot.New()
			grid[i][j].HideAxes()
		}
	}
	for i, pn := range panels {
		p, err := panelPlot(pn, sides)
		if err != nil {
			return fmt.Errorf("chart %q: %w", pn.Title, err)
		}
		grid[i/cols][i%cols] = p
	}
	const titleH = 0.45 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(cols)*4*vg.Inch, 4*vg.Inch*vg.Length(rows)+titleH), vgimg.UseDPI(110))
	dc := draw.New(img)
	// Leave room for the title above the grid.
	top := dc
	top.Min.Y = dc.Max.Y - titleH
	body := dc
	body.Max.Y = top.Min.Y
	sty := plot.New().Title.TextStyle
	sty.Font.Size = vg.Points(14)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	top.FillText(sty, vg.Point{X: (top.Min.X + top.Max.X) / 2, Y: (top.Min.Y + top.Max.Y) / 2}, title)

	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Inch / 3, PadY: vg.Inch / 4, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 4, PadBottom: vg.Inch / 8}
	canvases := plot.Align(grid, tiles, body)
	for i := range grid {
		for j := range grid[i] {
			grid[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create chart: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("write chart: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

// panelPlot draws each figure as a group of bars, one per side, centred on
// the figure's index, with min–max whiskers and the median written on top.
func panelPlot(pn Panel, sides []Side) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.Title
	p.Y.Label.Text = pn.YLabel
	p.Y.Tick.Marker = plainTicks{}
	p.Y.Min = 0
	p.Legend.Top = true
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	// The group spans 0.8 of the space between figures.
	width := 0.8 / float64(len(sides))
	half := width/2 - 0.01
	var labels plotter.XYLabels
	for i, f := range pn.Figures {
		for k, side := range sides {
			s := f.Summary(side.Label)
			if s.N == 0 {
				continue
			}
			x := float64(i) - 0.4 + width*(float64(k)+0.5)
			bar, err := plotter.NewPolygon(plotter.XYs{
				{X: x - half, Y: 0}, {X: x + half, Y: 0},
				{X: x + half, Y: s.Median}, {X: x - half, Y: s.Median},
			})
			if err != nil {
				return nil, fmt.Errorf("bar: %w", err)
			}
			bar.Color = colours[k%len(colours)]
			bar.LineStyle.Width = 0
			whisker, err := plotter.NewYErrorBars(errBar{x: x, s: s})
			if err != nil {
				return nil, fmt.Errorf("whisker: %w", err)
			}
			p.Add(bar, whisker)
			if i == 0 && pn.Legend {
				p.Legend.Add(side.Name, bar)
			}
			labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: s.Max})
			labels.Labels = append(labels.Labels, fmt.Sprintf("%.*f", f.Digits, s.Median))
		}
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign = draw.XCenter
		l.TextStyle[i].YAlign = draw.YBottom
		l.TextStyle[i].Font.Size = vg.Points(8)
		l.Offset = vg.Point{Y: vg.Points(3)}
	}
	p.Add(l)
	p.NominalX(pn.Labels...)
	p.X.Min, p.X.Max = -0.6, float64(len(pn.Figures))-0.4
	// Head room for the value labels and the legend.
	p.Y.Max *= 1.25
	if pn.Legend {
		p.Y.Max *= 1.3
	}
	return p, nil
}

// errBar is one whisker from min to max, drawn at the median.
type errBar struct {
	x float64
	s stats.Summary
}

func (e errBar) Len() int                      { return 1 }
func (e errBar) XY(int) (float64, float64)     { return e.x, e.s.Median }
func (e errBar) YError(int) (float64, float64) { return e.s.Median - e.s.Min, e.s.Max - e.s.Median }

// plainTicks are gonum's default ticks labelled without trailing zeros, so
// that 50000 does not read 50000.00.
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}
