// csr.go: enrols with the mesh CA exactly as Ifrit's node does (comm/crypto_unit.go, client.go), then checks what
// came back the way an Ifrit node relies on it. Standard library only: `go run test/mesh/clients/csr.go -ca ...`.
//
// Ifrit builds its identity as pkix.Name{Locality: [rpcAddr, pingAddr(, httpAddr)]}, makes an ECDSA key (P-521 in
// current Ifrit), a CSR signed with ECDSA-SHA256 carrying DNSNames and IPAddresses, and POSTs the raw DER to
// http://<ca_addr>/certificateRequest with Content-Type "text". It decodes {OwnCert, KnownCerts, CaCert, Trusted}
// ([]byte fields as standard base64) and reads the ring count from extension 2.5.13.37 (4 little-endian bytes).
//
// Output: one JSON object on stdout. Exit status 0 when enrolment and every check passed, 1 otherwise.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

type certResponse struct {
	OwnCert    []byte
	KnownCerts [][]byte
	CaCert     []byte
	Trusted    bool
}

type attempt struct {
	Status        int      `json:"status"`
	Error         string   `json:"error,omitempty"`
	Body          string   `json:"body,omitempty"`
	ID            string   `json:"id,omitempty"`
	Serial        string   `json:"serial,omitempty"`
	Locality      []string `json:"locality,omitempty"`
	DNSNames      []string `json:"dnsNames,omitempty"`
	IPAddresses   []string `json:"ipAddresses,omitempty"`
	NumRings      uint32   `json:"numRings,omitempty"`
	CaNumRings    uint32   `json:"caNumRings,omitempty"`
	Trusted       bool     `json:"trusted"`
	KnownCerts    int      `json:"knownCerts"`
	KnownIDs      []string `json:"knownIds,omitempty"`
	Verified      bool     `json:"verified"`
	VerifyError   string   `json:"verifyError,omitempty"`
	NotAfter      string   `json:"notAfter,omitempty"`
	SameKey       bool     `json:"sameKey"`
	IssuerIsCa    bool     `json:"issuerIsCa"`
	CaIsCA        bool     `json:"caIsCA"`
	OwnCertPem    string   `json:"ownCertPem,omitempty"`
	CaCertPem     string   `json:"caCertPem,omitempty"`
	KnownCertsNil bool     `json:"knownCertsNull"`
}

type result struct {
	Curve    string    `json:"curve"`
	Attempts []attempt `json:"attempts"`
	OK       bool      `json:"ok"`
}

var ringOID = asn1.ObjectIdentifier{2, 5, 13, 37}

func ringCount(exts []pkix.Extension) (uint32, bool) {
	for _, e := range exts {
		if e.Id.Equal(ringOID) && len(e.Value) == 4 {
			return binary.LittleEndian.Uint32(e.Value), true
		}
	}
	return 0, false
}

func main() {
	caAddr := flag.String("ca", "", "ca_addr as in Ifrit's config: host:port/mesh/<group> (http:// is added, as Ifrit does)")
	curveName := flag.String("curve", "P521", "P521 or P256")
	rpc := flag.String("rpc", "127.0.0.1:7000", "rpc address (Locality[0])")
	ping := flag.String("ping", "127.0.0.1:7001", "ping address (Locality[1])")
	httpAddr := flag.String("http", "", "optional http address (Locality[2])")
	times := flag.Int("times", 1, "send the same CSR this many times (the second and later are renewals)")
	token := flag.String("token", "", "enrolment token for a closed group (sent as Mesh-Enrolment-Token)")
	writeCSR := flag.String("write-csr", "", "write the CSR (DER) to this file and exit without posting")
	verifyPem := flag.String("verify", "", "only verify this PEM certificate against -cafile (as an Ifrit peer would) and exit")
	caFile := flag.String("cafile", "", "PEM CA certificate for -verify")
	keyOut := flag.String("key-out", "", "write the member's private key here (SEC1 PEM, \"EC PRIVATE KEY\"), so a member client can answer the group's challenge")
	flag.Parse()

	if *verifyPem != "" {
		os.Exit(verifyFiles(*verifyPem, *caFile))
	}

	var curve elliptic.Curve
	switch *curveName {
	case "P521":
		curve = elliptic.P521()
	case "P256":
		curve = elliptic.P256()
	default:
		fmt.Fprintln(os.Stderr, "curve must be P521 or P256")
		os.Exit(2)
	}
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		panic(err)
	}
	if *keyOut != "" {
		sec1, err := x509.MarshalECPrivateKey(priv)
		if err != nil {
			panic(err)
		}
		if err := os.WriteFile(*keyOut, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), 0o600); err != nil {
			panic(err)
		}
	}
	locality := []string{*rpc, *ping}
	if *httpAddr != "" {
		locality = append(locality, *httpAddr)
	}
	hostName, _ := os.Hostname()
	if hostName == "" {
		hostName = "localhost"
	}
	host, _, _ := net.SplitHostPort(*rpc)
	template := x509.CertificateRequest{
		SignatureAlgorithm: x509.ECDSAWithSHA256,
		Subject:            pkix.Name{Locality: locality},
		DNSNames:           []string{hostName},
		IPAddresses:        []net.IP{net.ParseIP(host)},
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &template, priv)
	if err != nil {
		panic(err)
	}
	if *writeCSR != "" {
		if err := os.WriteFile(*writeCSR, der, 0o644); err != nil {
			panic(err)
		}
		return
	}

	out := result{Curve: *curveName, OK: true}
	for i := 0; i < *times; i++ {
		a := enrol(*caAddr, der, *token, priv)
		if a.Error != "" || !a.Verified {
			out.OK = false
		}
		out.Attempts = append(out.Attempts, a)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(out)
	if !out.OK {
		os.Exit(1)
	}
}

func enrol(caAddr string, der []byte, token string, priv *ecdsa.PrivateKey) attempt {
	var a attempt
	req, err := http.NewRequest("POST", fmt.Sprintf("http://%s/certificateRequest", caAddr), bytes.NewBuffer(der))
	if err != nil {
		a.Error = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "text")
	if token != "" {
		req.Header.Set("Mesh-Enrolment-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a.Status = resp.StatusCode
	if resp.StatusCode != 200 {
		a.Error = "status " + resp.Status
		a.Body = string(body)
		return a
	}
	// Which keys are present, and whether KnownCerts is null, as Go's decoder cannot tell null from absent.
	var rawMap map[string]json.RawMessage
	if err := json.Unmarshal(body, &rawMap); err != nil {
		a.Error = "body is not JSON: " + err.Error()
		return a
	}
	keys := []string{}
	for k := range rawMap {
		keys = append(keys, k)
	}
	if len(rawMap) != 4 || rawMap["OwnCert"] == nil || rawMap["KnownCerts"] == nil || rawMap["CaCert"] == nil || rawMap["Trusted"] == nil {
		a.Error = "response keys are " + strings.Join(keys, ",") + ", want exactly OwnCert, KnownCerts, CaCert, Trusted"
		return a
	}
	a.KnownCertsNil = string(rawMap["KnownCerts"]) == "null"

	var certs certResponse
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&certs); err != nil {
		a.Error = err.Error()
		return a
	}
	own, err := x509.ParseCertificate(certs.OwnCert)
	if err != nil {
		a.Error = "OwnCert: " + err.Error()
		return a
	}
	ca, err := x509.ParseCertificate(certs.CaCert)
	if err != nil {
		a.Error = "CaCert: " + err.Error()
		return a
	}
	for _, b := range certs.KnownCerts {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			a.Error = "KnownCerts: " + err.Error()
			return a
		}
		a.KnownIDs = append(a.KnownIDs, hex.EncodeToString(c.SubjectKeyId))
	}
	a.KnownCerts = len(certs.KnownCerts)
	a.Trusted = certs.Trusted
	a.ID = hex.EncodeToString(own.SubjectKeyId)
	a.Serial = own.SerialNumber.Text(16)
	a.Locality = own.Subject.Locality
	a.DNSNames = own.DNSNames
	for _, ip := range own.IPAddresses {
		a.IPAddresses = append(a.IPAddresses, ip.String())
	}
	a.NotAfter = own.NotAfter.UTC().Format(time.RFC3339)
	if n, ok := ringCount(own.Extensions); ok {
		a.NumRings = n
	} else {
		a.Error = "OwnCert has no 4-byte 2.5.13.37 ring extension"
	}
	if n, ok := ringCount(ca.Extensions); ok {
		a.CaNumRings = n
	}
	if len(own.SubjectKeyId) != 32 {
		a.Error = fmt.Sprintf("SubjectKeyId is %d bytes, Ifrit needs 32", len(own.SubjectKeyId))
	}
	if pub, ok := own.PublicKey.(*ecdsa.PublicKey); ok {
		a.SameKey = pub.Equal(&priv.PublicKey)
	}
	a.IssuerIsCa = bytes.Equal(own.RawIssuer, ca.RawSubject)
	a.CaIsCA = ca.IsCA && ca.KeyUsage&x509.KeyUsageCertSign != 0

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err = own.Verify(x509.VerifyOptions{
		Roots:     roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		a.VerifyError = err.Error()
	} else {
		a.Verified = true
	}
	a.OwnCertPem = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs.OwnCert}))
	a.CaCertPem = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs.CaCert}))
	return a
}

// verifyFiles checks a certificate made for someone else (an OpenSSL or member-client request) the way an Ifrit
// node checks a peer: x509.Verify against the group CA for client and server auth, a 32-byte id, the ring count.
func verifyFiles(certFile, caFile string) int {
	read := func(f string) (*x509.Certificate, error) {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM block", f)
		}
		return x509.ParseCertificate(blk.Bytes)
	}
	out := map[string]any{"verified": false}
	defer func() {
		json.NewEncoder(os.Stdout).Encode(out)
	}()
	own, err := read(certFile)
	if err != nil {
		out["error"] = err.Error()
		return 1
	}
	ca, err := read(caFile)
	if err != nil {
		out["error"] = err.Error()
		return 1
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := own.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}); err != nil {
		out["error"] = err.Error()
		return 1
	}
	n, ok := ringCount(own.Extensions)
	out["verified"] = true
	out["id"] = hex.EncodeToString(own.SubjectKeyId)
	out["idBytes"] = len(own.SubjectKeyId)
	out["numRings"] = n
	out["hasRings"] = ok
	out["locality"] = own.Subject.Locality
	return 0
}
