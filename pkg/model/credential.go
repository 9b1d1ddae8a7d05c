package model

// Credential is TLS material a Gateway names with credentialName, from a
// Kubernetes Secret (keys tls.crt/tls.key/ca.crt, or cert/key/cacert).
type Credential struct {
	Name      string
	Namespace string
	Cert      []byte
	Key       []byte
	// CACert verifies client certificates (MUTUAL) when set.
	CACert []byte
}

// CredentialFor returns the credential named name in namespace ns, or nil.
func (s *Snapshot) CredentialFor(ns, name string) *Credential {
	return s.credentials[ns+"/"+name]
}

func (s *Snapshot) indexCredentials(creds []*Credential) {
	s.credentials = make(map[string]*Credential, len(creds))
	for _, c := range creds {
		s.credentials[c.Namespace+"/"+c.Name] = c
	}
}
