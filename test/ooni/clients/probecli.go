// probecli.go replays the requests a stock probe-cli (ooni/probe-cli internal/probeservices) makes against a
// base URL and parses every answer with probe-cli's rules: status exactly 200, a JSON body that is not null,
// decoded with encoding/json into probe-cli's own field layout (times into time.Time, so RFC 3339 or fail).
// Standard library only. Usage: go run probecli.go -base http://127.0.0.1:8787 [-cc IT -asn AS1234]
// It prints one JSON object with what it received, for test/e2e/ooni.test.mjs to check.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// The wire shapes of internal/model/ooapi.go (field names and types only).
type service struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Front   string `json:"front,omitempty"`
}
type urlInfo struct {
	CategoryCode string `json:"category_code"`
	CountryCode  string `json:"country_code"`
	URL          string `json:"url"`
}
type checkInConfig struct {
	Charging        bool   `json:"charging"`
	OnWiFi          bool   `json:"on_wifi"`
	Platform        string `json:"platform"`
	ProbeASN        string `json:"probe_asn"`
	ProbeCC         string `json:"probe_cc"`
	RunType         string `json:"run_type"`
	SoftwareName    string `json:"software_name"`
	SoftwareVersion string `json:"software_version"`
	WebConnectivity struct {
		CategoryCodes []string `json:"category_codes"`
	} `json:"web_connectivity"`
}
type checkInResult struct {
	Conf struct {
		Features    map[string]bool      `json:"features"`
		TestHelpers map[string][]service `json:"test_helpers"`
	} `json:"conf"`
	ProbeASN string `json:"probe_asn"`
	ProbeCC  string `json:"probe_cc"`
	Tests    struct {
		WebConnectivity *struct {
			ReportID string    `json:"report_id"`
			URLs     []urlInfo `json:"urls"`
		} `json:"web_connectivity"`
	} `json:"tests"`
	UTCTime time.Time `json:"utc_time"`
	V       int64     `json:"v"`
}
type registerRequest struct {
	AvailableBandwidth string   `json:"available_bandwidth,omitempty"`
	DeviceToken        string   `json:"device_token,omitempty"`
	Language           string   `json:"language,omitempty"`
	NetworkType        string   `json:"network_type,omitempty"`
	Platform           string   `json:"platform"`
	ProbeASN           string   `json:"probe_asn"`
	ProbeCC            string   `json:"probe_cc"`
	ProbeFamily        string   `json:"probe_family,omitempty"`
	ProbeTimezone      string   `json:"probe_timezone,omitempty"`
	SoftwareName       string   `json:"software_name"`
	SoftwareVersion    string   `json:"software_version"`
	SupportedTests     []string `json:"supported_tests"`
	Password           string   `json:"password"`
}
type loginAuth struct {
	Expire time.Time `json:"expire"`
	Token  string    `json:"token"`
}
type reportTemplate struct {
	DataFormatVersion string `json:"data_format_version"`
	Format            string `json:"format"`
	ProbeASN          string `json:"probe_asn"`
	ProbeCC           string `json:"probe_cc"`
	SoftwareName      string `json:"software_name"`
	SoftwareVersion   string `json:"software_version"`
	TestName          string `json:"test_name"`
	TestStartTime     string `json:"test_start_time"`
	TestVersion       string `json:"test_version"`
}
type openResponse struct {
	BackendVersion   string   `json:"backend_version"`
	ReportID         string   `json:"report_id"`
	SupportedFormats []string `json:"supported_formats"`
}
type updateResponse struct {
	MeasurementUID string `json:"measurement_uid"`
}
type submitRequest struct {
	Format          string  `json:"format"`
	Content         string  `json:"content"`
	Nym             *string `json:"nym"`
	ZKPRequest      *string `json:"zkp_request"`
	ManifestVersion *string `json:"manifest_version"`
	ProtocolVersion *string `json:"protocol_version"`
}
type measurementMeta struct {
	MeasurementStartTime time.Time `json:"measurement_start_time"`
	ProbeASN             int64     `json:"probe_asn"`
	ProbeCC              string    `json:"probe_cc"`
	ReportID             string    `json:"report_id"`
	TestStartTime        time.Time `json:"test_start_time"`
}

var base string

// call is httpclientx's contract: exactly 200, a body that is not JSON null, decoded into out.
func call(method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "miniooni/3.30.0 ooniprobe-engine/3.30.0")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, data)
	}
	if strings.TrimSpace(string(data)) == "null" {
		return fmt.Errorf("%s %s: JSON null body", method, path)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func letters(n int) string {
	const abc = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	return string(b)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "probecli:", err)
		os.Exit(1)
	}
}

func main() {
	flag.StringVar(&base, "base", "http://127.0.0.1:8787", "probe services base URL")
	cc := flag.String("cc", "IT", "probe_cc the probe geolocated")
	asn := flag.String("asn", "AS1234", "probe_asn the probe geolocated")
	adoptID := flag.String("adopt", "", "a client_id issued elsewhere to log in with (fleet adoption)")
	flag.Parse()
	out := map[string]any{}

	// Start-up: the test helpers map.
	var helpers map[string][]service
	must(call("GET", "/api/v1/test-helpers", "", nil, &helpers))
	out["test_helpers"] = len(helpers)

	// MaybeRegister with the engine's fixed metadata, a device_token, 64 random letters.
	password := letters(64)
	var reg struct {
		ClientID string `json:"client_id"`
	}
	must(call("POST", "/api/v1/register", "", registerRequest{
		DeviceToken: "device-token-" + letters(8), Platform: "miniooni", ProbeASN: "AS0", ProbeCC: "ZZ",
		SoftwareName: "miniooni", SoftwareVersion: "0.1.0-dev", SupportedTests: []string{"web_connectivity"}, Password: password,
	}, &reg))
	if reg.ClientID == "" {
		must(errors.New("register: empty client_id"))
	}
	// MaybeLogin: expire decoded as time.Time; re-login is due at expire - 30 s.
	var auth loginAuth
	must(call("POST", "/api/v1/login", "", map[string]string{"username": reg.ClientID, "password": password}, &auth))
	if auth.Token == "" || !time.Now().Add(30*time.Second).Before(auth.Expire) {
		must(fmt.Errorf("login: token %q expire %v", auth.Token, auth.Expire))
	}
	out["login_expire"] = auth.Expire.Format(time.RFC3339)

	if *adoptID != "" {
		var a loginAuth
		must(call("POST", "/api/v1/login", "", map[string]string{"username": *adoptID, "password": letters(64)}, &a))
		out["adopted_expire"] = a.Expire.Format(time.RFC3339)
	}

	// Check-ins: timed, timed while charging, manual; no Authorization header, as probe-cli.
	counts := map[string]int{}
	var first *checkInResult
	for _, kind := range []string{"timed", "charging", "manual"} {
		cfg := checkInConfig{Charging: kind == "charging", OnWiFi: true, Platform: "linux", ProbeASN: *asn, ProbeCC: *cc,
			RunType: map[bool]string{true: "manual", false: "timed"}[kind == "manual"], SoftwareName: "miniooni", SoftwareVersion: "3.30.0"}
		cfg.WebConnectivity.CategoryCodes = []string{}
		var r checkInResult
		must(call("POST", "/api/v1/check-in", "", cfg, &r))
		if r.Tests.WebConnectivity == nil || len(r.Tests.WebConnectivity.URLs) <= 0 {
			must(fmt.Errorf("check-in %s: no URLs returned", kind)) // targetloading.ErrNoURLsReturned
		}
		if r.UTCTime.IsZero() || r.V != 1 || r.Conf.Features == nil || len(r.Conf.TestHelpers) == 0 {
			must(fmt.Errorf("check-in %s: incomplete answer %+v", kind, r))
		}
		counts[kind] = len(r.Tests.WebConnectivity.URLs)
		if first == nil {
			first = &r
		}
	}
	out["urls"] = counts
	out["first_urls"] = first.Tests.WebConnectivity.URLs[:2]
	out["features"] = first.Conf.Features
	out["checkin_report_id"] = first.Tests.WebConnectivity.ReportID

	// Measurement submission, legacy flow: open a report, submit the first URL's measurement to it.
	tmpl := reportTemplate{DataFormatVersion: "0.2.0", Format: "json", ProbeASN: *asn, ProbeCC: *cc, SoftwareName: "miniooni",
		SoftwareVersion: "3.30.0", TestName: "web_connectivity", TestStartTime: time.Now().UTC().Format("2006-01-02 15:04:05"), TestVersion: "0.5.28"}
	var opened openResponse
	must(call("POST", "/report", "", tmpl, &opened))
	jsonOK := false
	for _, f := range opened.SupportedFormats {
		jsonOK = jsonOK || f == "json"
	}
	if !jsonOK {
		must(errors.New("report: JSON format not supported"))
	}
	msmt := map[string]any{"data_format_version": "0.2.0", "input": first.Tests.WebConnectivity.URLs[0].URL, "probe_asn": *asn, "probe_cc": *cc,
		"report_id": opened.ReportID, "software_name": "miniooni", "software_version": "3.30.0", "test_name": "web_connectivity",
		"test_start_time": tmpl.TestStartTime, "test_version": "0.5.28", "test_keys": map[string]any{"accessible": true}}
	var upd updateResponse
	must(call("POST", "/report/"+opened.ReportID, "", map[string]any{"format": "json", "content": msmt}, &upd))
	out["report_id"] = opened.ReportID
	out["report_measurement_uid"] = upd.MeasurementUID

	// Newer flow: submit_measurement with the measurement as a JSON string, carrying check-in's report_id.
	msmt["report_id"] = first.Tests.WebConnectivity.ReportID
	msmt["input"] = first.Tests.WebConnectivity.URLs[1].URL
	content, _ := json.Marshal(msmt)
	var sub updateResponse
	must(call("POST", "/api/v1/submit_measurement", "", submitRequest{Format: "json", Content: string(content)}, &sub))
	out["submit_measurement_uid"] = sub.MeasurementUID

	// measurement_meta parses times with Go's rules too.
	var meta measurementMeta
	must(call("GET", "/api/v1/measurement_meta?measurement_uid="+sub.MeasurementUID, "", nil, &meta))
	out["meta_report_id"] = meta.ReportID

	enc := json.NewEncoder(os.Stdout)
	must(enc.Encode(out))
}
