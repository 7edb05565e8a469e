package x402test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/tollhq/toll/tools/money"
)

// Prices of the weather routes, in atomic units of the token (TokenDecimals):
// money.USDC(PriceWeather) is the price as an amount.
const (
	PriceWeather = 1000   // GET /weather/{city}: 0.001 USDC, x402 v1
	PriceReport  = 5000   // POST /reports: 0.005 USDC, x402 v2
	PriceClimate = 250000 // GET /climate/{city}: 0.25 USDC, x402 v2
)

// WeatherRoutes returns the routes of the demo weather API that WeatherSpec describes:
//
//	GET  /health          free
//	GET  /weather/{city}  x402 v1, 0.001 USDC; query units=metric|imperial
//	POST /reports         x402 v2, 0.005 USDC; JSON body {"city": …, "days": 1..14}
//	GET  /climate/{city}  x402 v2, 0.25 USDC
//
// The data is fake and deterministic: the same city always gets the same weather. Bad
// arguments answer 400 before anything is settled.
func WeatherRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Pattern: "/health", Description: "Service health",
			Handler: http.HandlerFunc(serveHealth)},
		{Method: http.MethodGet, Pattern: "/weather/{city}", Price: money.USDC(PriceWeather), Version: 1,
			Description: "Current weather for a city", Handler: http.HandlerFunc(serveWeather), Bazaar: weatherBazaar()},
		{Method: http.MethodPost, Pattern: "/reports", Price: money.USDC(PriceReport), Version: 2,
			Description: "Multi-day weather report", Handler: http.HandlerFunc(serveReport), Bazaar: reportBazaar()},
		{Method: http.MethodGet, Pattern: "/climate/{city}", Price: money.USDC(PriceClimate), Version: 2,
			Description: "Thirty years of climate history for a city", Handler: http.HandlerFunc(serveClimate), Bazaar: climateBazaar()},
	}
}

// Weather is the weather of one city on one day.
type Weather struct {
	City       string   `json:"city"`
	Day        int      `json:"day,omitempty"` // 1-based, in reports
	TempC      float64  `json:"tempC"`
	TempF      *float64 `json:"tempF,omitempty"` // with units=imperial
	Conditions string   `json:"conditions"`
}

var conditions = []string{"clear", "partly cloudy", "cloudy", "light rain", "rain", "fog", "snow", "windy"}

// cityHash is a stable pseudo-random source for a city: the same name (ignoring case and
// surrounding space) always gives the same numbers.
func cityHash(city string, salt string) [32]byte {
	return sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(city)) + "\x00" + salt))
}

// fakeWeather derives a day's weather from the city name.
func fakeWeather(city string, day int) Weather {
	h := cityHash(city, fmt.Sprint("day", day))
	tenths := int(binary.BigEndian.Uint16(h[:2]) % 450) // 0.0 .. 44.9
	return Weather{
		City:       city,
		Day:        day,
		TempC:      float64(tenths-100) / 10, // -10.0 .. 34.9
		Conditions: conditions[int(h[2])%len(conditions)],
	}
}

func validCity(city string) error {
	if n := utf8.RuneCountInString(city); n < 1 || n > 64 {
		return fmt.Errorf("city must be 1 to 64 characters")
	}
	return nil
}

func serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func serveWeather(w http.ResponseWriter, r *http.Request) {
	city := r.PathValue("city")
	if err := validCity(city); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	units := r.URL.Query().Get("units")
	if units != "" && units != "metric" && units != "imperial" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "units must be metric or imperial"})
		return
	}
	wx := fakeWeather(city, 0)
	if units == "imperial" {
		f := math.Round((wx.TempC*9/5+32)*10) / 10
		wx.TempF = &f
	}
	writeJSON(w, http.StatusOK, wx)
}

// ReportRequest is the body of POST /reports.
type ReportRequest struct {
	City string `json:"city"`
	Days int    `json:"days"`
}

func serveReport(w http.ResponseWriter, r *http.Request) {
	var req ReportRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON {\"city\": string, \"days\": 1..14}: " + err.Error()})
		return
	}
	if err := validCity(req.City); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if req.Days < 1 || req.Days > 14 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "days must be 1 to 14"})
		return
	}
	days := make([]Weather, req.Days)
	for i := range days {
		days[i] = fakeWeather(req.City, i+1)
	}
	writeJSON(w, http.StatusOK, map[string]any{"city": req.City, "days": days})
}

func serveClimate(w http.ResponseWriter, r *http.Request) {
	city := r.PathValue("city")
	if err := validCity(city); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	h := cityHash(city, "climate")
	mean := float64(int(binary.BigEndian.Uint16(h[:2])%300)-50) / 10 // -5.0 .. 24.9
	months := make([]map[string]any, 12)
	for m := range months {
		// A seasonal curve around the mean, coldest in January.
		t := mean - 8*math.Cos(2*math.Pi*float64(m)/12)
		months[m] = map[string]any{
			"month":         m + 1,
			"meanTempC":     math.Round(t*10) / 10,
			"rainfallMm":    20 + int(h[2+m])%120,
			"sunshineHours": 40 + int(h[14+m])%220,
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"city":      city,
		"period":    "1995-2024",
		"years":     30,
		"meanTempC": mean,
		"months":    months,
	})
}
