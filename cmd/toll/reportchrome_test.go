package main

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// chromium finds Debian's chromium. Under CI (TOLL_CI set) a missing one fails the test;
// elsewhere the test skips, saying how to install it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed; on Debian or Ubuntu: apt-get install -y --no-install-recommends chromium"
	if os.Getenv("TOLL_CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestLedgerReportRendersInChromium renders the HTML report in headless Chromium and
// checks, in the screenshot, that the chart is drawn: each series' colour covers far more
// pixels than its legend swatch (12 × 12) would, as its bars do.
func TestLedgerReportRendersInChromium(t *testing.T) {
	bin := chromium(t)
	page := writeReportPage(t)
	shot := filepath.Join(t.TempDir(), "report.png")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "--window-size=1200,800", "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// The series of reportLedger, largest first: weather 0.5, the hostile API 0.4, geo 0.3
	// (the chart's tallest day is 0.75 on a scale to 0.8).
	for i, series := range []string{"weather", hostileAPI, "geo"} {
		n := colourPixels(img, reportPalette[i])
		if n < 5000 {
			t.Errorf("series %q: %d pixels of its colour %s in the screenshot, want its bars' (over 5000)", series, n, reportPalette[i])
		}
	}
}

// colourPixels counts the pixels of img within a few levels of the colour hex (#rrggbb).
func colourPixels(img image.Image, hex string) int {
	v, _ := strconv.ParseUint(hex[1:], 16, 32)
	want := [3]int{int(v >> 16 & 0xff), int(v >> 8 & 0xff), int(v & 0xff)}
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			got := [3]int{int(r >> 8), int(g >> 8), int(bl >> 8)}
			near := true
			for c := range got {
				if d := got[c] - want[c]; d < -6 || d > 6 {
					near = false
				}
			}
			if near {
				n++
			}
		}
	}
	return n
}
