package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/awsarn"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Service is the local Lambda (see the package comment).
type Service struct {
	env    wire.Env
	client *http.Client // to emulators

	concurrency int // Options.Concurrency, defaulted

	mu     sync.Mutex
	fns    map[string]*lambdaFunction
	locks  map[string]chan struct{} // by emulator URL
	closed bool

	// Invocations that outlive their caller (Event invocations, and
	// emulator calls whose caller gave up) run under bgCtx and are counted
	// in bg; Close cancels and waits for them.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
}

// Handler is an in-process Lambda function. Returning a *FunctionError is a
// function error (what a Lambda handler's returned error becomes); any
// other error is a failure of the service itself (the REST API answers it as
// a 500 ServiceException). A panic is recovered and becomes a function
// error named after the panic value's type, as aws-lambda-go reports it.
type Handler func(ctx context.Context, payload []byte) ([]byte, error)

// FunctionError is an error the function itself reported: Lambda answers
// it with X-Amz-Function-Error: Unhandled and the payload
// {"errorMessage": Message, "errorType": Type}. Step Functions matches
// Type in Retry and Catch.
type FunctionError struct {
	Type    string
	Message string
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// The error types the emulator's own failures are given.
const (
	// lambdaExitError is a runtime that exited or crashed without
	// reporting an error (the emulator's 502 without an error object).
	lambdaExitError = "Runtime.ExitError"
	// lambdaTimeoutError is a function that ran past its timeout
	// (AWS_LAMBDA_FUNCTION_TIMEOUT of the emulator, 300 s by default).
	lambdaTimeoutError = "Sandbox.Timedout"
)

type lambdaFunction struct {
	name    string
	handler Handler // or
	url     string  // an emulator's invocations URL
	// lock holds one token per invocation running: as many as the
	// function's concurrency for a handler, one for an emulator.
	lock chan struct{}
}

// DefaultConcurrency is how many invocations of one in-process function
// run at once unless Options or FunctionOptions say otherwise.
const DefaultConcurrency = 64

// Options configure the service.
type Options struct {
	// Concurrency bounds how many invocations of each in-process function
	// run at once, as a function's reserved concurrency does on Lambda; 0
	// means DefaultConcurrency. Beyond it an invocation waits for one to
	// end (or for its context to end), where Lambda would refuse it with
	// TooManyRequestsException: locally a wait gives the same throughput
	// without the retries and backoff every caller (rotor's state
	// machine retries that error) would add to a test. Functions under
	// the emulator run one invocation at a time whatever this says.
	Concurrency int
}

// FunctionOptions configure one in-process function.
type FunctionOptions struct {
	// Concurrency is Options.Concurrency for this function alone; 0
	// means the service's.
	Concurrency int
}

// New builds the service; functions are registered afterwards. A negative
// concurrency is an error.
func New(env wire.Env, o Options) (*Service, error) {
	if o.Concurrency < 0 {
		return nil, fmt.Errorf("lambda: concurrency %d: want 0 (the default, %d) or more", o.Concurrency, DefaultConcurrency)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // emulators are on loopback
	return &Service{
		env:         env,
		client:      &http.Client{Transport: tr},
		concurrency: o.Concurrency,
		fns:         map[string]*lambdaFunction{},
		locks:       map[string]chan struct{}{},
		bgCtx:       ctx,
		bgCancel:    cancel,
	}, nil
}

// Register plugs an in-process function in under name (a name or an ARN,
// see Invoke), replacing whatever was there; a nil h removes it. Its
// invocations run concurrently, up to the service's concurrency.
func (l *Service) Register(name string, h Handler) {
	_ = l.RegisterWith(name, h, FunctionOptions{}) // zero options are valid
}

// RegisterWith is Register with options. A negative concurrency is an
// error, and registers nothing. Invocations running when a function is
// replaced finish under the old bound; the new one counts only its own.
func (l *Service) RegisterWith(name string, h Handler, o FunctionOptions) error {
	name = awsarn.FunctionName(name)
	if o.Concurrency < 0 {
		return fmt.Errorf("lambda: function %s: concurrency %d: want 0 (the service's, %d) or more", name, o.Concurrency, l.concurrency)
	}
	if o.Concurrency == 0 {
		o.Concurrency = l.concurrency
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if h == nil {
		delete(l.fns, name)
		return nil
	}
	l.fns[name] = &lambdaFunction{name: name, handler: h, lock: make(chan struct{}, o.Concurrency)}
	return nil
}

// RegisterURL routes name to a function running under the Runtime
// Interface Emulator, whose invocations URL is invokeURL
// (http://127.0.0.1:PORT/2015-03-31/functions/function/invocations, what
// RIEFunction.URL returns); "" removes it. Calls are serialized per URL, so
// several names may share one emulator.
func (l *Service) RegisterURL(name, invokeURL string) {
	name = awsarn.FunctionName(name)
	l.mu.Lock()
	defer l.mu.Unlock()
	if invokeURL == "" {
		delete(l.fns, name)
		return
	}
	l.fns[name] = &lambdaFunction{name: name, url: invokeURL, lock: l.lockLocked(invokeURL)}
}

func (l *Service) lockLocked(key string) chan struct{} {
	c, ok := l.locks[key]
	if !ok {
		c = make(chan struct{}, 1)
		l.locks[key] = c
	}
	return c
}

func (l *Service) lookup(name string) (*lambdaFunction, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn, ok := l.fns[awsarn.FunctionName(name)]
	return fn, ok
}

func (l *Service) functionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", l.env.Region, l.env.Account, awsarn.FunctionName(name))
}

func (l *Service) notFound(name string) error {
	msg := "Function not found: " + l.functionARN(name)
	return &lambdaNotFoundError{
		api: &wire.Error{Code: "ResourceNotFoundException", Message: msg, Status: http.StatusNotFound},
		sdk: &lambdatypes.ResourceNotFoundException{Message: aws.String(msg), Type: aws.String("User")},
	}
}

// lambdaNotFoundError is an unknown function. errors.As finds in it both
// the package's *wire.Error (code ResourceNotFoundException) and the Lambda
// SDK's *types.ResourceNotFoundException.
type lambdaNotFoundError struct {
	api *wire.Error
	sdk *lambdatypes.ResourceNotFoundException
}

func (e *lambdaNotFoundError) Error() string   { return e.sdk.Error() }
func (e *lambdaNotFoundError) Unwrap() []error { return []error{e.api, e.sdk} }

// Invoke calls a function synchronously (RequestResponse) and returns its
// response payload. functionName is a name, NAME:QUALIFIER or an ARN.
// Errors:
//   - a function error: *FunctionError;
//   - an unknown function: an error in which errors.As finds both the Lambda
//     SDK's *types.ResourceNotFoundException and *wire.Error (code
//     ResourceNotFoundException);
//   - ctx ending first: ctx's error (an emulator invocation already sent
//     still runs to its end, holding the function);
//   - anything else: a failure of the service (emulator unreachable, ...).
func (l *Service) Invoke(ctx context.Context, functionName string, payload []byte) ([]byte, error) {
	fn, ok := l.lookup(functionName)
	if !ok {
		return nil, l.notFound(functionName)
	}
	return l.invoke(ctx, fn, payload)
}

func (l *Service) invoke(ctx context.Context, fn *lambdaFunction, payload []byte) ([]byte, error) {
	select {
	case fn.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if fn.handler != nil {
		defer func() { <-fn.lock }()
		return callHandler(ctx, fn, payload, l.env.Log.Error)
	}
	// The emulator must see one invocation at a time: if ctx ends while it
	// runs, the invocation goes on in the background and keeps the lock
	// until the emulator answers.
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-fn.lock
		return nil, errors.New("lambda: server closed")
	}
	l.bg.Add(1)
	l.mu.Unlock()
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer l.bg.Done()
		defer func() { <-fn.lock }()
		out, err := l.post(l.bgCtx, fn, payload)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func callHandler(ctx context.Context, fn *lambdaFunction, payload []byte, logError func(string, ...any)) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			logError("lambda handler panicked", "function", fn.name, "panic", v, "stack", string(debug.Stack()))
			out, err = nil, panicError(v)
		}
	}()
	return fn.handler(ctx, payload)
}

// panicError names a panic as aws-lambda-go does: the type name of the
// value (pointers dereferenced), its message.
func panicError(v any) *FunctionError {
	t := reflect.TypeOf(v)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fe := &FunctionError{Message: fmt.Sprint(v)}
	if t != nil {
		fe.Type = t.Name()
	}
	if err, ok := v.(error); ok {
		fe.Message = err.Error()
	}
	return fe
}

// maxLambdaResponse bounds what is read from an emulator (Lambda's limit
// for a synchronous response is 6 MB).
const maxLambdaResponse = 6<<20 + 1<<10

// post invokes a function under the emulator and interprets its answer.
// The emulator answers a function's returned error as HTTP 200 with an
// error object and no X-Amz-Function-Error header, a runtime that crashed
// or exited as 502 (with the error object the runtime reported, if any),
// and a timeout as 200 "Task timed out after N.00 seconds".
func (l *Service) post(ctx context.Context, fn *lambdaFunction, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fn.url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("lambda %s: %w", fn.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambda %s: emulator at %s unreachable: %w", fn.name, fn.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLambdaResponse))
	if err != nil {
		return nil, fmt.Errorf("lambda %s: reading the emulator's answer: %w", fn.name, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if fe := parseFunctionError(body, true); fe != nil {
			return nil, fe
		}
		if bytes.HasPrefix(body, []byte("Task timed out after ")) {
			return nil, &FunctionError{Type: lambdaTimeoutError, Message: string(body)}
		}
		return body, nil
	case http.StatusBadGateway:
		if fe := parseFunctionError(body, false); fe != nil {
			return nil, fe
		}
		msg := strings.TrimSpace(string(body))
		if msg == "" {
			msg = "Runtime exited without providing a reason"
		}
		return nil, &FunctionError{Type: lambdaExitError, Message: msg}
	}
	return nil, fmt.Errorf("lambda %s: emulator at %s answered HTTP %d: %.200s", fn.name, fn.url, resp.StatusCode, body)
}

// parseFunctionError recognizes the error object a runtime reports:
// {"errorMessage": "...", "errorType": "..."} with an optional
// "stackTrace". strict (for a 200, where a function's own payload could
// look alike) requires exactly these keys; otherwise an errorType suffices.
func parseFunctionError(body []byte, strict bool) *FunctionError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !bytes.Contains(body, []byte(`"errorType"`)) {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	var fe FunctionError
	if json.Unmarshal(m["errorType"], &fe.Type) != nil {
		return nil
	}
	if raw, ok := m["errorMessage"]; ok {
		if json.Unmarshal(raw, &fe.Message) != nil {
			return nil
		}
	} else if strict {
		return nil
	}
	if strict {
		for k := range m {
			if k != "errorType" && k != "errorMessage" && k != "stackTrace" {
				return nil
			}
		}
	} else if fe.Type == "" {
		return nil
	}
	return &fe
}

// serve answers Invoke: POST /2015-03-31/functions/{FunctionName}/invocations.
func (l *Service) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	name, ok := invocationsPath(r.URL)
	if !ok || r.Method != http.MethodPost {
		lambdaError(w, http.StatusNotFound, "UnknownOperationException", "rotor local endpoint: Lambda supports only Invoke (POST /2015-03-31/functions/{FunctionName}/invocations)")
		return
	}
	fn, ok := l.lookup(name)
	if !ok {
		writeLambdaError(w, l.notFound(name))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: the payload is not valid JSON")
		return
	}
	switch typ := r.Header.Get("X-Amz-Invocation-Type"); typ {
	case "", "RequestResponse":
		out, err := l.invoke(r.Context(), fn, body)
		var fe *FunctionError
		switch {
		case errors.As(err, &fe):
			out, _ = json.Marshal(struct {
				Message string `json:"errorMessage"`
				Type    string `json:"errorType"`
			}{fe.Message, fe.Type})
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		case err != nil:
			l.env.Log.Error("lambda invoke", "function", fn.name, "error", err)
			writeLambdaError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
	case "Event":
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			lambdaError(w, http.StatusServiceUnavailable, "ServiceException", "the local endpoint is shutting down")
			return
		}
		l.bg.Add(1)
		l.mu.Unlock()
		payload := bytes.Clone(body)
		go func() {
			defer l.bg.Done()
			start := time.Now()
			_, err := l.invoke(l.bgCtx, fn, payload)
			l.env.Log.Debug("lambda event invocation", "function", fn.name, "duration", time.Since(start), "error", err)
			if err != nil {
				l.env.Log.Warn("lambda event invocation failed", "function", fn.name, "error", err)
			}
		}()
		w.WriteHeader(http.StatusAccepted)
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
	default:
		lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", fmt.Sprintf("X-Amz-Invocation-Type %q is not RequestResponse, Event or DryRun", typ))
	}
}

// invocationsPath extracts the function name of an Invoke path.
func invocationsPath(u *url.URL) (string, bool) {
	rest, ok := strings.CutPrefix(u.EscapedPath(), "/2015-03-31/functions/")
	if !ok {
		return "", false
	}
	enc, ok := strings.CutSuffix(strings.TrimSuffix(rest, "/"), "/invocations")
	if !ok || enc == "" || strings.Contains(enc, "/") {
		return "", false
	}
	name, err := url.PathUnescape(enc)
	if err != nil {
		return "", false
	}
	return name, true
}

// writeLambdaError answers err in Lambda's REST-JSON error shape: API
// errors keep their code, anything else is a 500 ServiceException.
func writeLambdaError(w http.ResponseWriter, err error) {
	var rnf *lambdatypes.ResourceNotFoundException
	var ae smithy.APIError
	switch {
	case errors.As(err, &rnf):
		lambdaError(w, http.StatusNotFound, rnf.ErrorCode(), rnf.ErrorMessage())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		lambdaError(w, http.StatusServiceUnavailable, "ServiceException", err.Error())
	case errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultClient:
		lambdaError(w, http.StatusBadRequest, ae.ErrorCode(), ae.ErrorMessage())
	default:
		lambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
	}
}

// lambdaError writes {"Type": "User"|"Service", "message": ...} with
// X-Amzn-ErrorType, as Lambda does.
func lambdaError(w http.ResponseWriter, status int, code, msg string) {
	typ := "User"
	if status >= 500 {
		typ = "Service"
	}
	body, _ := json.Marshal(map[string]string{"Type": typ, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Close cancels invocations running in the background (Event invocations,
// emulator calls whose caller gave up) and waits for them, at most 5 s.
func (l *Service) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.bgCancel()
	done := make(chan struct{})
	go func() { l.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		l.env.Log.Warn("lambda: background invocations still running at close")
	}
	l.client.CloseIdleConnections()
	return nil
}

// writeError answers a fault or a throttling refusal in Lambda's protocol.
func (l *Service) WriteError(w http.ResponseWriter, code, message string, status int) {
	lambdaError(w, status, code, message)
}
