package ca

import (
	"strings"
	"testing"
)

func TestIdentityString(t *testing.T) {
	if got, want := testID.String(), "spiffe://cluster.local/ns/shop/sa/cart"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if got := testID.URL().String(); got != testID.String() {
		t.Fatalf("URL() = %q, want %q", got, testID.String())
	}
}

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		uri     string
		want    Identity
		wantErr string
	}{
		{"spiffe://cluster.local/ns/shop/sa/cart", testID, ""},
		{"spiffe://td_1.example-org/ns/a-1/sa/x.y-z", Identity{"td_1.example-org", "a-1", "x.y-z"}, ""},
		{"spiffe://cluster.local/ns/" + strings.Repeat("a", 63) + "/sa/b", Identity{"cluster.local", strings.Repeat("a", 63), "b"}, ""},
		{"", Identity{}, `scheme must be "spiffe://"`},
		{"https://cluster.local/ns/shop/sa/cart", Identity{}, `scheme must be "spiffe://"`},
		{"SPIFFE://cluster.local/ns/shop/sa/cart", Identity{}, `scheme must be "spiffe://"`},
		{"spiffe://cluster.local/ns/shop", Identity{}, "want spiffe://<trust domain>/ns/<namespace>/sa/<service account>"},
		{"spiffe://cluster.local/ns/shop/sa/cart/extra", Identity{}, "want spiffe://"},
		{"spiffe://cluster.local/ns/shop/sa/cart/", Identity{}, "want spiffe://"},
		{"spiffe://cluster.local/sa/cart/ns/shop", Identity{}, "want spiffe://"},
		{"spiffe:///ns/shop/sa/cart", Identity{}, "trust domain is empty"},
		{"spiffe://Cluster.Local/ns/shop/sa/cart", Identity{}, `character 'C' is not allowed`},
		{"spiffe://cluster.local:443/ns/shop/sa/cart", Identity{}, `character ':' is not allowed`},
		{"spiffe://user@cluster.local/ns/shop/sa/cart", Identity{}, `character '@' is not allowed`},
		{"spiffe://cluster.local/ns//sa/cart", Identity{}, `namespace "": is empty`},
		{"spiffe://cluster.local/ns/shop/sa/", Identity{}, `service account "": is empty`},
		{"spiffe://cluster.local/ns/Shop/sa/cart", Identity{}, `namespace "Shop": character 'S' is not allowed`},
		{"spiffe://cluster.local/ns/-shop/sa/cart", Identity{}, `namespace "-shop": must start and end`},
		{"spiffe://cluster.local/ns/shop-/sa/cart", Identity{}, `must start and end`},
		{"spiffe://cluster.local/ns/sh.op/sa/cart", Identity{}, `character '.' is not allowed`},
		{"spiffe://cluster.local/ns/sh%2Fop/sa/cart", Identity{}, `character '%' is not allowed`},
		{"spiffe://cluster.local/ns/" + strings.Repeat("a", 64) + "/sa/b", Identity{}, "longer than 63 characters"},
		{"spiffe://cluster.local/ns/shop/sa/a..b", Identity{}, `dot-separated part "" is empty`},
		{"spiffe://cluster.local/ns/shop/sa/cart?x=1", Identity{}, `character '?' is not allowed`},
		{"spiffe://cluster.local/ns/shop/sa/cart#f", Identity{}, `character '#' is not allowed`},
		{"spiffe://" + strings.Repeat("a", 256) + "/ns/shop/sa/cart", Identity{}, "longer than 255 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			got, err := ParseIdentity(tt.uri)
			wantErrContains(t, err, tt.wantErr)
			if got != tt.want {
				t.Fatalf("ParseIdentity = %+v, want %+v", got, tt.want)
			}
			if err == nil && got.String() != tt.uri {
				t.Fatalf("round trip: %q became %q", tt.uri, got.String())
			}
		})
	}
}
