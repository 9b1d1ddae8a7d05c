package kubectlmesh

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"time"
)

// certRow is the metadata of one certificate of a secret: never key material.
type certRow struct {
	secret, role      string
	subject, issuer   string
	sans              []string
	notAfter, problem string
}

// secretsTable lists each certificate of each secret: the workload's chain and trusted CAs.
func secretsTable(out io.Writer, resources []map[string]any) error {
	w := newTabWriter(out)
	fmt.Fprintln(w, "SECRET\tROLE\tSUBJECT\tSANS\tISSUER\tNOT AFTER")
	for _, r := range resources {
		rows := secretCerts(r)
		if len(rows) == 0 {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\n", str(r, "name"))
		}
		for _, c := range rows {
			if c.problem != "" {
				fmt.Fprintf(w, "%s\t%s\t%s\t-\t-\t-\n", c.secret, c.role, c.problem)
				continue
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.secret, c.role, orNone(c.subject), orNone(strings.Join(c.sans, ",")), orNone(c.issuer), c.notAfter)
		}
	}
	return w.Flush()
}

func secretCerts(r map[string]any) []certRow {
	name := str(r, "name")
	var rows []certRow
	if src := obj(r, "tls_certificate", "certificate_chain"); src != nil {
		rows = append(rows, certRows(name, "chain", src)...)
	}
	if src := obj(r, "validation_context", "trusted_ca"); src != nil {
		rows = append(rows, certRows(name, "trusted CA", src)...)
	}
	return rows
}

// certRows reads the PEM certificates of an Envoy DataSource (inline bytes or string); a file
// or environment source is named, not read.
func certRows(secret, role string, src map[string]any) []certRow {
	var data []byte
	switch {
	case str(src, "inline_bytes") != "":
		b, err := base64.StdEncoding.DecodeString(str(src, "inline_bytes"))
		if err != nil {
			return []certRow{{secret: secret, role: role, problem: "inline_bytes is not base64: " + err.Error()}}
		}
		data = b
	case str(src, "inline_string") != "":
		data = []byte(str(src, "inline_string"))
	case str(src, "filename") != "":
		return []certRow{{secret: secret, role: role, problem: "file " + str(src, "filename")}}
	default:
		return []certRow{{secret: secret, role: role, problem: "no inline certificate"}}
	}
	var rows []certRow
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue // never show anything but certificates
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			rows = append(rows, certRow{secret: secret, role: role, problem: "unparsable certificate: " + err.Error()})
			continue
		}
		rows = append(rows, certRow{secret: secret, role: role, subject: cert.Subject.String(), issuer: cert.Issuer.String(),
			sans: sans(cert), notAfter: cert.NotAfter.UTC().Format(time.RFC3339)})
	}
	if len(rows) == 0 {
		rows = append(rows, certRow{secret: secret, role: role, problem: "no PEM certificate"})
	}
	return rows
}

func sans(c *x509.Certificate) []string {
	var out []string
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	out = append(out, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}
