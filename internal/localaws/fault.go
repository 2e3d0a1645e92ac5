package localaws

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
)

// Fault makes an operation fail: "error" answers a 500 without applying
// the request; "lost" applies it and then drops the connection, as if the
// response were lost.
type Fault struct {
	Service string  // "secretsmanager", "states", "sns", "lambda", "iam", "sts", "events", "dynamodb"
	Op      string  // operation name, "*" for all
	Mode    string  // "error" or "lost"
	Rate    float64 // probability per request, 0 < Rate <= 1
}

// ParseFault parses SERVICE:OP:MODE[:RATE], e.g.
// "secretsmanager:PutSecretValue:lost:0.5" (RATE defaults to 1).
func ParseFault(s string) (Fault, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 3 || len(parts) > 4 {
		return Fault{}, fmt.Errorf("fault %q: want SERVICE:OPERATION:MODE[:RATE]", s)
	}
	f := Fault{Service: parts[0], Op: parts[1], Mode: parts[2], Rate: 1}
	if _, ok := services[f.Service]; !ok {
		return Fault{}, fmt.Errorf("fault %q: unknown service %q (want one of %s)", s, f.Service, strings.Join(serviceNames(), ", "))
	}
	if f.Mode != "error" && f.Mode != "lost" {
		return Fault{}, fmt.Errorf("fault %q: mode %q is not error or lost", s, f.Mode)
	}
	if len(parts) == 4 {
		if _, err := fmt.Sscanf(parts[3], "%g", &f.Rate); err != nil || f.Rate <= 0 || f.Rate > 1 {
			return Fault{}, fmt.Errorf("fault %q: rate %q is not a number in (0, 1]", s, parts[3])
		}
	}
	return f, nil
}

func (s *Server) fault(svc, op string) string {
	for _, f := range s.opts.Faults {
		if f.Service == svc && (f.Op == "*" || f.Op == op) && rand.Float64() < f.Rate {
			return f.Mode
		}
	}
	return ""
}

// discard is a ResponseWriter that drops what it is given: a "lost" fault
// applies the request without answering it.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
