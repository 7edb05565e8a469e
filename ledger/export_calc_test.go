package ledger

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tollhq/toll/tools/money"
)

// calcCell is one cell of a flat OpenDocument spreadsheet (.fods) as LibreOffice writes it.
type calcCell struct {
	Type     string   `xml:"value-type,attr"`
	Value    string   `xml:"value,attr"`
	Date     string   `xml:"date-value,attr"`
	Formula  string   `xml:"formula,attr"`
	Repeated int      `xml:"number-columns-repeated,attr"`
	Text     []string `xml:"p"`
}

// calcSheet reads the first sheet of a .fods file: its rows of cells.
func calcSheet(t *testing.T, path string) [][]calcCell {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tables []struct {
			Rows []struct {
				Cells []calcCell `xml:"table-cell"`
			} `xml:"table-row"`
		} `xml:"body>spreadsheet>table"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(doc.Tables) == 0 {
		t.Fatalf("%s has no sheet", path)
	}
	var rows [][]calcCell
	for _, r := range doc.Tables[0].Rows {
		var cells []calcCell
		for _, c := range r.Cells {
			for range max(c.Repeated, 1) {
				cells = append(cells, c)
			}
		}
		rows = append(rows, cells)
	}
	return rows
}

// calcConvert converts a CSV file to .fods with LibreOffice headless, with the CSV import
// options filter ("" for its defaults), in its own profile so that it runs beside any
// other LibreOffice.
func calcConvert(t *testing.T, soffice, csvPath, filter string) [][]calcCell {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-env:UserInstallation=file://" + filepath.Join(dir, "profile"), "--headless"}
	if filter != "" {
		args = append(args, "--infilter="+filter)
	}
	run(t, soffice, append(args, "--convert-to", "fods", "--outdir", dir, csvPath)...)
	return calcSheet(t, filepath.Join(dir, strings.TrimSuffix(filepath.Base(csvPath), ".csv")+".fods"))
}

// TestExportCalc: LibreOffice Calc opens the CSV export of a ledger filled through the
// API with amounts, counts, HTTP statuses and atomic units as numbers (of the values written), times as
// dates, and every text cell as text: an address, and text that starts like a formula
// (=, +, -, @), which stays text rather than being run. The Excel form (byte order mark,
// CRLF, times with a space) opens the same way with "detect special numbers", which is
// how Excel reads such times.
func TestExportCalc(t *testing.T) {
	soffice := needTool(t, "soffice", "libreoffice-calc-nogui")
	ctx := t.Context()
	l := goldenLedger(t)
	hostile := Refusal{
		CallID: "call-evil", Agent: "=1+2", Session: "+SUM(1;2)", API: "-3", Tool: "@tool",
		PayTo: "=HYPERLINK(\"http://evil.example\";\"click\")", Amount: amt(1500),
		Network: "eip155:84532", Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", Reason: "-2+3",
	}
	if err := l.Refuse(ctx, hostile); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		opt    CSVOptions
		filter string // LibreOffice's CSV import options: comma, quote, UTF-8, from line 1, detect special numbers
	}{
		{"export.csv", CSVOptions{}, ""},
		{"export-excel.csv", CSVOptions{Excel: true}, "CSV:44,34,76,1,,0,false,true"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := l.ExportCSV(ctx, &buf, Filter{}, tt.opt); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), tt.name)
			if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			want, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\uFEFF")))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			checkCalc(t, want, calcConvert(t, soffice, path, tt.filter))
		})
	}
}

// checkCalc compares the sheet LibreOffice made with the CSV rows written.
func checkCalc(t *testing.T, want [][]string, got [][]calcCell) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("the sheet has %d rows, want %d", len(got), len(want))
	}
	numbers := map[string]bool{"seq": true, "http_status": true, "decimals": true, "amount": true, "amount_atomic": true}
	times := map[string]bool{"time_utc": true, "updated_utc": true, "valid_before_utc": true}
	header := want[0]
	for j, name := range header {
		if c := got[0][j]; c.Type != "string" || strings.Join(c.Text, "\n") != name {
			t.Errorf("header cell %d = %+v, want the text %q", j, c, name)
		}
	}
	var formulaLike int
	for i, row := range want[1:] {
		cells := got[i+1]
		for j, v := range row {
			c, name := cells[j], header[j]
			switch {
			case v == "":
				if c.Type != "" {
					t.Errorf("row %d %s: %+v, want an empty cell", i+1, name, c)
				}
			case c.Formula != "":
				t.Errorf("row %d %s: %q became the formula %q", i+1, name, v, c.Formula)
			case numbers[name]:
				checkCalcNumber(t, i+1, name, v, c)
			case times[name]:
				// 2026-03-01T12:00:00.000 or 2026-03-01 12:00:00.000: a date, to the second.
				if c.Type != "date" || !strings.HasPrefix(c.Date, strings.Replace(v, " ", "T", 1)[:19]) {
					t.Errorf("row %d %s: %+v, want the date %s", i+1, name, c, v)
				}
			default:
				if c.Type != "string" || strings.Join(c.Text, "\n") != v {
					t.Errorf("row %d %s: %+v, want the text %q", i+1, name, c, v)
				}
				if strings.HasPrefix(v, "'") {
					formulaLike++
				}
			}
		}
	}
	if formulaLike != 6 {
		t.Errorf("%d text cells start with a quote, want the hostile refusal's 6", formulaLike)
	}
}

// checkCalcNumber: a float of the value written; an amount is compared as a decimal (a
// float64 holds 15 digits: the amounts here have fewer).
func checkCalcNumber(t *testing.T, row int, name, v string, c calcCell) {
	t.Helper()
	if c.Type != "float" {
		t.Errorf("row %d %s: %+v, want the number %s", row, name, c, v)
		return
	}
	w, err1 := strconv.ParseFloat(v, 64)
	g, err2 := strconv.ParseFloat(c.Value, 64)
	if err1 != nil || err2 != nil || w != g {
		t.Errorf("row %d %s: %s, want %s", row, name, c.Value, v)
	}
	if name == "amount" {
		if _, err := money.Parse(c.Value, Decimals); err != nil {
			t.Errorf("row %d amount %s: %v", row, c.Value, err)
		}
	}
}
