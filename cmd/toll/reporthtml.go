package main

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// The HTML report is one self-contained page: inline CSS, an SVG chart drawn here, no
// script, font, image or link to fetch. html/template escapes every string from the ledger.

// reportPalette are the colours of the chart's series (Tableau 10), in order; an eleventh
// API and those after it share the last one, as "other".
var reportPalette = []string{
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
}

// otherSeries names the series of the APIs past the palette's last colour but one.
const otherSeries = "(other APIs)"

// reportPage is what the HTML template shows.
type reportPage struct {
	Period  string
	Cards   []reportCard
	Chart   *reportChart // nil when nothing settled
	Columns []string
	Tables  []reportTable
}

type reportCard struct{ Label, Amount, Calls string }

type reportTable struct {
	Title string
	Rows  []reportRow
}

type reportRow struct {
	Key   string
	Cells []string
}

// reportChart is the chart of the settled spend per day, one stacked bar a day with a
// segment per API, and the same numbers as a table (the chart's text form).
type reportChart struct {
	Width, Height  int
	PlotX, PlotY   int
	PlotW, PlotH   int
	Desc           string
	Series         []reportSeries
	Bars           []reportBar
	YTicks, XTicks []reportTick
	DataColumns    []string
	DataRows       []reportRow
}

type reportSeries struct{ Name, Color, Total string }

type reportBar struct {
	Series, Day, Color, Label string
	X, Y, W, H                string
}

type reportTick struct {
	At    string // pixels along the axis
	Label string
}

func writeReportHTML(w io.Writer, s *ledger.Summary) error {
	p := reportPage{Period: reportPeriod(s), Columns: reportColumns, Chart: newReportChart(s)}
	rv := ledger.Tally{Count: s.Total.Released.Count + s.Total.Voided.Count, Amount: s.Total.Released.Amount.Add(s.Total.Voided.Amount)}
	for _, c := range []struct {
		label string
		t     ledger.Tally
	}{{"Settled", s.Total.Settled}, {"Unknown", s.Total.Unknown}, {"Reserved", s.Total.Reserved}, {"Released or voided", rv}, {"Refused", s.Total.Refused}} {
		n := calls(c.t.Count)
		if c.label == "Refused" {
			n = strings.Replace(n, "call", "refusal", 1)
		}
		p.Cards = append(p.Cards, reportCard{Label: c.label, Amount: c.t.Amount.String(), Calls: n})
	}
	p.Tables = append(p.Tables, reportTable{Title: "Total", Rows: []reportRow{{Key: "all", Cells: reportCells(&s.Total)}}})
	for _, sec := range reportSections(s) {
		t := reportTable{Title: sec.title}
		for i := range sec.rows {
			t.Rows = append(t.Rows, reportRow{Key: reportKey(sec.rows[i].Key), Cells: reportCells(&sec.rows[i].Breakdown)})
		}
		p.Tables = append(p.Tables, t)
	}
	return reportTemplate.Execute(w, p)
}

func calls(n int64) string {
	if n == 1 {
		return "1 call"
	}
	return fmt.Sprintf("%d calls", n)
}

// chartSeries are the APIs with a settled spend, largest first (ties by name), each with
// its colour; past the palette, the rest share one series.
func chartSeries(s *ledger.Summary) (names []string, totals map[string]money.Amount, of func(api string) string) {
	totals = map[string]money.Amount{}
	for _, g := range s.APIs {
		if g.Settled.Amount.Sign() > 0 {
			names = append(names, g.Key)
			totals[g.Key] = g.Settled.Amount
		}
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(totals[b].Cmp(totals[a]), cmp.Compare(a, b)) })
	of = func(api string) string { return api }
	if len(names) > len(reportPalette) {
		own := map[string]bool{}
		for _, n := range names[:len(reportPalette)-1] {
			own[n] = true
		}
		var other money.Amount
		for _, n := range names[len(reportPalette)-1:] {
			other = other.Add(totals[n])
		}
		names = append(names[:len(reportPalette)-1], otherSeries)
		totals[otherSeries] = other
		of = func(api string) string {
			if own[api] {
				return api
			}
			return otherSeries
		}
	}
	return names, totals, of
}

// chartDays are the days from the first of s to the last, each with the settled spend of
// each series.
func chartDays(s *ledger.Summary, of func(string) string) (days []string, spend []map[string]money.Amount) {
	if len(s.Days) == 0 {
		return nil, nil
	}
	first, _ := time.Parse(time.DateOnly, s.Days[0].Key)
	last, _ := time.Parse(time.DateOnly, s.Days[len(s.Days)-1].Key)
	index := map[string]int{}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		index[d.Format(time.DateOnly)] = len(days)
		days = append(days, d.Format(time.DateOnly))
		spend = append(spend, map[string]money.Amount{})
	}
	for _, d := range s.Daily {
		if d.Settled.Amount.Sign() > 0 {
			m := spend[index[d.Day]]
			m[of(d.API)] = m[of(d.API)].Add(d.Settled.Amount)
		}
	}
	return days, spend
}

// usdcFloat is an amount as a float, for drawing only.
func usdcFloat(a money.Amount) float64 {
	f, _ := strconv.ParseFloat(a.String(), 64)
	return f
}

// niceScale is the top of a value axis at or above top and its step: 1, 2, 2.5 or 5
// times a power of ten, about four steps.
func niceScale(top float64) (float64, float64) {
	if top <= 0 {
		return 1, 0.25
	}
	raw := top / 4
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * pow
	for _, m := range []float64{1, 2, 2.5, 5} {
		if raw <= m*pow {
			step = m * pow
			break
		}
	}
	return math.Ceil(top/step-1e-9) * step, step
}

func px(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// newReportChart lays out the chart of s's settled spend, or returns nil when nothing
// settled.
func newReportChart(s *ledger.Summary) *reportChart {
	names, totals, of := chartSeries(s)
	if len(names) == 0 {
		return nil
	}
	c := &reportChart{Width: 960, Height: 340, PlotX: 72, PlotY: 16, DataColumns: append([]string{"Day (UTC)"}, names...)}
	c.PlotW, c.PlotH = c.Width-c.PlotX-16, c.Height-c.PlotY-48
	desc := ""
	for i, n := range names {
		c.Series = append(c.Series, reportSeries{Name: n, Color: reportPalette[i], Total: totals[n].String()})
		desc += fmt.Sprintf("; %s %s", n, totals[n])
	}
	days, spend := chartDays(s, of)
	c.Desc = fmt.Sprintf("Stacked bars, one a day from %s to %s, each the settled spend of that day in USDC, a segment per API. Totals%s.", days[0], days[len(days)-1], desc)
	top := 0.0
	for _, m := range spend {
		sum := 0.0
		for _, a := range m {
			sum += usdcFloat(a)
		}
		top = max(top, sum)
	}
	ymax, step := niceScale(top)
	for k := 0; float64(k)*step <= ymax*(1+1e-9); k++ {
		v := float64(k) * step
		c.YTicks = append(c.YTicks, reportTick{At: px(float64(c.PlotY+c.PlotH) - v/ymax*float64(c.PlotH)), Label: strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)})
	}
	slot := float64(c.PlotW) / float64(len(days))
	every := (len(days) + 7) / 8
	for i, day := range days {
		x := float64(c.PlotX) + float64(i)*slot
		if i%every == 0 {
			c.XTicks = append(c.XTicks, reportTick{At: px(x + slot/2), Label: day})
		}
		c.addDay(day, x+slot*0.1, slot*0.8, spend[i], names, ymax)
	}
	return c
}

// addDay draws one day's bar at x, width w: a segment per series, stacked in the series'
// order, and the day's row of the chart's table.
func (c *reportChart) addDay(day string, x, w float64, spend map[string]money.Amount, names []string, ymax float64) {
	if len(spend) == 0 {
		return
	}
	row := reportRow{Key: day}
	base := float64(c.PlotY + c.PlotH)
	for i, n := range names {
		a, ok := spend[n]
		if !ok {
			row.Cells = append(row.Cells, "-")
			continue
		}
		row.Cells = append(row.Cells, a.String())
		h := usdcFloat(a) / ymax * float64(c.PlotH)
		base -= h
		c.Bars = append(c.Bars, reportBar{
			Series: n, Day: day, Color: reportPalette[i], Label: fmt.Sprintf("%s, %s: %s USDC settled", day, n, a),
			X: px(x), Y: px(base), W: px(max(w, 1)), H: px(h),
		})
	}
	c.DataRows = append(c.DataRows, row)
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>toll ledger report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 16px 24px; max-width: 1000px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 20px 0 6px; }
p.period { color: #555; margin: 0 0 12px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 0 0 8px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 6px 12px; min-width: 120px; }
.card .label { color: #555; font-size: 12px; }
.card .amount { font-size: 18px; font-weight: 600; }
.card .calls { color: #555; font-size: 12px; }
figure { margin: 0; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
svg .grid { stroke: #e4e4e4; }
svg .axis { stroke: #888; }
ul.legend { list-style: none; display: flex; gap: 16px; flex-wrap: wrap; padding: 0; margin: 4px 0 0 72px; }
ul.legend svg { vertical-align: -2px; margin-right: 4px; }
table { border-collapse: collapse; margin: 0 0 8px; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f6f6; }
details summary { cursor: pointer; color: #555; }
</style>
</head>
<body>
<h1>toll ledger report</h1>
<p class="period">{{.Period}}. Amounts in USDC, each with its number of calls; a call counts in its status now.</p>
<div class="cards">{{range .Cards}}
<div class="card"><div class="label">{{.Label}}</div><div class="amount">{{.Amount}}</div><div class="calls">{{.Calls}}</div></div>{{end}}
</div>
<h2 id="chart-title">Settled spend per day, by API (USDC)</h2>
{{with .Chart}}<figure>
<svg id="chart" role="img" aria-labelledby="chart-svg-title chart-desc" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
<title id="chart-svg-title">Settled spend per day, by API (USDC)</title>
<desc id="chart-desc">{{.Desc}}</desc>
{{range .YTicks}}<line class="grid" x1="{{$.Chart.PlotX}}" x2="{{$.Chart.Width}}" y1="{{.At}}" y2="{{.At}}"/><text x="{{$.Chart.PlotX}}" dx="-6" y="{{.At}}" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}{{range .Bars}}<rect class="bar" data-series="{{.Series}}" data-day="{{.Day}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Color}}"><title>{{.Label}}</title></rect>
{{end}}<line class="axis" x1="{{.PlotX}}" x2="{{.Width}}" y1="{{.PlotH}}" y2="{{.PlotH}}" transform="translate(0 {{.PlotY}})"/>
{{range .XTicks}}<text x="{{.At}}" y="{{$.Chart.Height}}" dy="-28" text-anchor="middle">{{.Label}}</text>
{{end}}</svg>
<ul class="legend">{{range .Series}}<li class="series" data-series="{{.Name}}"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{{.Color}}"/></svg>{{.Name}}: {{.Total}}</li>{{end}}</ul>
<figcaption><details><summary>The chart as a table</summary>
<table id="chart-data"><thead><tr>{{range .DataColumns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .DataRows}}<tr><td>{{.Key}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table></details></figcaption>
</figure>
{{else}}<p id="chart">Nothing settled in this period: no chart.</p>
{{end}}{{range .Tables}}{{if .Rows}}<h2>{{.Title}}</h2>
<table class="totals" data-title="{{.Title}}"><thead><tr><th>{{.Title}}</th>{{range $.Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr><td>{{.Key}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table>
{{end}}{{end}}<p class="period">Written by toll from the ledger's events, each checked against the hash chain as it was read.</p>
</body>
</html>
`))
