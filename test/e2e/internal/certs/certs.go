// Package certs makes the TLS certificate that the e2e cluster's Ingress
// serves. There is no cert-manager and no ACME here, so the harness plays
// the issuer: one throwaway CA per run, which the load clients trust and
// nothing else does.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Pair is a serving certificate for the Ingress and the CA that signed it.
type Pair struct {
	CertPEM []byte // leaf, then the CA: what a tls Secret's tls.crt holds
	KeyPEM  []byte
	Roots   *x509.CertPool // trusts the CA only
}

// Issue makes a CA and a leaf certificate for hosts, valid for a day: long
// enough for any run, short enough that a leaked one is worthless.
func Issue(hosts ...string) (*Pair, error) {
	now := time.Now()
	ca, caKey, caDER, err := create(&x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "zerodrop e2e CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	_, key, der, err := create(&x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	p := &Pair{
		CertPEM: append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Roots:  x509.NewCertPool(),
	}
	p.Roots.AddCert(ca)
	return p, nil
}

// create makes a P-256 key and a certificate for it from tmpl, signed by
// parent's key, or self-signed when parent is nil.
func create(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("key: %w", err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certificate: %w", err)
	}
	return cert, key, der, nil
}
