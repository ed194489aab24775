package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/csv"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// pki holds the files the control plane needs. They live in the state directory so that a
// restart on the same data keeps the CA, the tokens and the service-account keys: clients that
// trusted the cluster before a restart still trust it after.
type pki struct {
	dir        string
	caCert     string
	serverCert string
	serverKey  string
	saKey      string
	saPub      string
	tokenFile  string
	adminToken string
	users      []testUser
	caPEM      []byte
}

// testUser is a static-token identity for tests and demos. Groups decide what RBAC grants them.
type testUser struct {
	Name   string   `json:"name"`
	Token  string   `json:"token"`
	Groups []string `json:"groups"`
}

var defaultUsers = []testUser{
	{Name: "alice", Groups: []string{"tenant-a"}},
	{Name: "bob", Groups: []string{"tenant-b"}},
	{Name: "carol", Groups: nil},
	{Name: "crdgate-gateway", Groups: []string{"crdgate:gateway"}},
}

func ensurePKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{
		dir:        dir,
		caCert:     filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey:  filepath.Join(dir, "apiserver.key"),
		saKey:      filepath.Join(dir, "sa.key"),
		saPub:      filepath.Join(dir, "sa.pub"),
		tokenFile:  filepath.Join(dir, "tokens.csv"),
	}
	if !exists(p.caCert) || !exists(p.serverCert) || !exists(p.serverKey) {
		if err := p.generateTLS(); err != nil {
			return nil, fmt.Errorf("generating TLS certificates: %w", err)
		}
	}
	if !exists(p.saKey) || !exists(p.saPub) {
		if err := p.generateServiceAccountKeys(); err != nil {
			return nil, fmt.Errorf("generating service-account keys: %w", err)
		}
	}
	if err := p.ensureTokens(); err != nil {
		return nil, fmt.Errorf("writing token file: %w", err)
	}
	ca, err := os.ReadFile(p.caCert)
	if err != nil {
		return nil, err
	}
	p.caPEM = ca
	return p, nil
}

func (p *pki) generateTLS() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "crdgate-local-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caParsed, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("10.0.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caParsed, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return err
	}
	if err := writePEM(p.caCert, "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	if err := writePEM(p.serverCert, "CERTIFICATE", srvDER, 0o644); err != nil {
		return err
	}
	return writePEM(p.serverKey, "EC PRIVATE KEY", srvKeyDER, 0o600)
}

func (p *pki) generateServiceAccountKeys() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(p.saKey, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), 0o600); err != nil {
		return err
	}
	return writePEM(p.saPub, "PUBLIC KEY", pub, 0o644)
}

// ensureTokens keeps existing tokens so kubeconfigs and demo tokens survive restarts.
func (p *pki) ensureTokens() error {
	existing := map[string]string{}
	if data, err := os.ReadFile(p.tokenFile); err == nil {
		for _, rec := range parseTokenCSV(string(data)) {
			existing[rec[1]] = rec[0]
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	token := func(user string) string {
		if t, ok := existing[user]; ok {
			return t
		}
		return randomHex(24)
	}
	p.adminToken = token("admin")
	lines := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", p.adminToken)
	p.users = nil
	for _, u := range defaultUsers {
		u.Token = token(u.Name)
		groups := strings.Join(u.Groups, ",")
		lines += fmt.Sprintf("%s,%s,%s,\"%s\"\n", u.Token, u.Name, u.Name, groups)
		p.users = append(p.users, u)
	}
	return os.WriteFile(p.tokenFile, []byte(lines), 0o600)
}

// parseTokenCSV reads kube-apiserver's token file format: token,user,uid[,"group1,group2"].
func parseTokenCSV(s string) [][]string {
	r := csv.NewReader(strings.NewReader(s))
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil {
		return nil
	}
	var out [][]string
	for _, rec := range records {
		if len(rec) >= 3 {
			out = append(out, rec)
		}
	}
	return out
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
