package rotation_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// TestTiming: the exported reading of a policy validates every tag as the
// steps do and returns the timing the sweep decides with.
func TestTiming(t *testing.T) {
	cases := []struct {
		name    string
		tags    map[string]string
		maxAge  time.Duration
		paused  bool
		wantErr string // substring; "" for success
	}{
		{name: "default max age", tags: map[string]string{"rotor:provider": "random"}, maxAge: rotation.DefaultMaxAge},
		{name: "max age and pause", tags: map[string]string{"rotor:provider": "random", "rotor:max-age": "720h", "rotor:paused": "true", "rotor:paused-reason": "freeze"},
			maxAge: 30 * 24 * time.Hour, paused: true},
		{name: "unmanaged", tags: map[string]string{"team": "a"}, wantErr: "is not managed by rotor"},
		{name: "bad schedule", tags: map[string]string{"rotor:provider": "random", "rotor:schedule": "cron(nonsense)"}, wantErr: "tag rotor:schedule"},
		{name: "unknown tag", tags: map[string]string{"rotor:provider": "random", "rotor:max-agee": "1d"}, wantErr: "tag rotor:max-agee is not one rotor knows"},
		{name: "bad provider option", tags: map[string]string{"rotor:provider": "random", "rotor:random:colour": "red"}, wantErr: "colour"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := rotation.Timing("app/x", c.tags)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, rotorerr.InvalidInput) {
					t.Fatalf("err = %v, want InvalidInput containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.MaxAge != c.maxAge || p.Paused != c.paused {
				t.Errorf("MaxAge %v Paused %v, want %v %v", p.MaxAge, p.Paused, c.maxAge, c.paused)
			}
		})
	}
}

func TestVersionTime(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	tok, err := rotation.NewToken(at)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id   string
		want time.Time
		ok   bool
	}{
		{tok, at, true},
		{uuid.NewString(), time.Time{}, false}, // a v4, as the SDK and the console make
		{"not-a-uuid", time.Time{}, false},
	}
	for _, c := range cases {
		got, ok := rotation.VersionTime(c.id)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("VersionTime(%s) = %v %v, want %v %v", c.id, got, ok, c.want, c.ok)
		}
	}
}
