package keyservice

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDeleted(t *testing.T) {
	s := New("mk_test")
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	k := s.Mint("a")
	gone := s.Deleted(k.ID)
	select {
	case <-gone:
		t.Fatal("closed while the key is live")
	default:
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v1/keys/"+k.ID, nil)
	req.Header.Set("Authorization", "Bearer mk_test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %s", resp.Status)
	}
	select {
	case <-gone:
	default:
		t.Fatal("not closed after the delete")
	}
	if s.Accepts(k.Secret) {
		t.Error("the deleted key still works")
	}
	select {
	case <-s.Deleted("key_999"):
	default:
		t.Error("Deleted of a key that is not live is not closed")
	}
}
