package token_test

import (
	"testing"
	"time"

	kubecubejwt "github.com/golang-jwt/jwt" // v3.2.1, the library KubeCube verifies with
	authv1beta1 "k8s.io/api/authentication/v1beta1"

	"github.com/kubegate/kubegate/token"
)

// kubecubeClaims are KubeCube's token claims (pkg/authentication/authenticators/jwt):
// UserInfo without a JSON tag, and golang-jwt v3's StandardClaims, whose aud is a
// string.
type kubecubeClaims struct {
	UserInfo authv1beta1.UserInfo
	kubecubejwt.StandardClaims
}

// In HS256 drop-in mode a KubeCube component verifying with the shared secret
// accepts kubegate's tokens: parsed exactly as KubeCube's authenticator does.
func TestKubeCubeVerifierAcceptsHS256Tokens(t *testing.T) {
	c := &clock{time.Now()}
	s := newService(t, newStore(t), c, token.HS256)
	issued, err := s.Issue(alice, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("ssssssssssssssssssssssssssssssss") // newService's HS256 secret
	claims := &kubecubeClaims{}
	parsed, err := kubecubejwt.ParseWithClaims(issued.Token, claims, func(*kubecubejwt.Token) (interface{}, error) { return secret, nil })
	if err != nil {
		t.Fatalf("KubeCube's verifier refuses the token: %v", err)
	}
	got, ok := parsed.Claims.(*kubecubeClaims)
	if !ok || !parsed.Valid || got.UserInfo.Username != "alice" || len(got.UserInfo.Groups) != 1 || got.UserInfo.Groups[0] != "kubegate:users" {
		t.Fatalf("KubeCube reads %+v (valid %v)", got, parsed.Valid)
	}
	if got.Audience != "kubegate" || got.ExpiresAt != issued.ExpiresAt.Unix() {
		t.Fatalf("standard claims = %+v", got.StandardClaims)
	}
	// And with the wrong secret it refuses, as it should.
	if _, err := kubecubejwt.ParseWithClaims(issued.Token, &kubecubeClaims{}, func(*kubecubejwt.Token) (interface{}, error) { return []byte("wrong"), nil }); err == nil {
		t.Fatal("KubeCube's verifier accepted a token under the wrong secret")
	}
}
