package stepfunctions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/strictjson"

	"github.com/rotorhq/rotor/internal/localaws/wire"
	"github.com/rotorhq/rotor/internal/paginate"
)

const sfnJSON = "application/x-amz-json-1.0"

// Service is the local Step Functions (see the package comment).
type Service struct {
	env    wire.Env
	engine *asl.Engine

	mu       sync.Mutex
	machines map[string]*stateMachine // by ARN
	execs    map[string]*execution    // by ARN
	wg       sync.WaitGroup
	// closing is closed by Close: waiters return, the executions they wait
	// for resume on the next start.
	closing   chan struct{}
	closeOnce sync.Once
	shutdown  bool // Close has begun: no execution starts any more
}

// errClosing is WaitExecution's answer once Close has begun.
var errClosing = errors.New("the local endpoint's Step Functions is shutting down")

type stateMachine struct {
	ARN        string    `json:"arn"`
	Name       string    `json:"name"`
	Definition string    `json:"definition"`
	RoleARN    string    `json:"roleArn"`
	Created    time.Time `json:"created"`
	def        *asl.Definition
}

type execution struct {
	ARN        string          `json:"arn"`
	Name       string          `json:"name"`
	MachineARN string          `json:"machineArn"`
	Input      json.RawMessage `json:"input"`
	Start      time.Time       `json:"start"`
	Status     string          `json:"status"`
	Stop       time.Time       `json:"stop,omitzero"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
	Cause      string          `json:"cause,omitempty"`
	// StartedBy is the execution that started this one, as its input named
	// it in asl.StartedByKey.
	StartedBy string `json:"startedBy,omitempty"`

	x     *asl.Execution
	ended chan struct{} // closed once the execution has ended (see endedChan)
}

// endedChan returns a channel closed once ex has ended; the caller holds
// sf.mu. Made on first use, closed at once for an execution that ended
// before, so that a waiter never polls.
func (ex *execution) endedChan() chan struct{} {
	if ex.ended == nil {
		ex.ended = make(chan struct{})
		if ex.status() != asl.StatusRunning {
			close(ex.ended)
		}
	}
	return ex.ended
}

// Options are what the engine runs tasks with.
type Options struct {
	// Tasks runs Task states: the server passes asl.Services over its
	// Lambda and SNS.
	Tasks asl.TaskRunner
	// Jitter is the engine's random source (asl.Options.Random); nil uses
	// math/rand.
	Jitter func() float64
	// WaitScale multiplies the duration of every Wait state and retry
	// interval; 0 means 1 (real time).
	WaitScale float64
}

// scaledClock is wall-clock time whose sleeps last scale times as long:
// tests run a definition's retries and waits in a fraction of their time.
type scaledClock struct {
	asl.RealClock
	scale float64
}

func (c scaledClock) Sleep(ctx context.Context, d time.Duration) error {
	return c.RealClock.Sleep(ctx, time.Duration(float64(d)*c.scale))
}

// New builds the service and resumes the executions env.DB holds as
// running.
func New(env wire.Env, opts Options) (*Service, error) {
	sf := &Service{env: env, machines: map[string]*stateMachine{}, execs: map[string]*execution{}, closing: make(chan struct{})}
	var clock asl.Clock = asl.RealClock{}
	if opts.WaitScale < 0 {
		return nil, fmt.Errorf("stepfunctions: wait scale %g: want 0 (real time) or more", opts.WaitScale)
	}
	if opts.WaitScale > 0 && opts.WaitScale != 1 {
		clock = scaledClock{scale: opts.WaitScale}
	}
	sf.engine = asl.New(asl.Options{Tasks: opts.Tasks, Clock: clock, Random: opts.Jitter})
	if err := sf.load(); err != nil {
		return nil, err
	}
	return sf, nil
}

func (sf *Service) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	var out any
	var err error
	switch op {
	case "CreateStateMachine":
		var in sfn.CreateStateMachineInput
		if err = wire.DecodeJSON(body, &in); err == nil {
			out, err = sf.createStateMachine(&in)
		}
	case "DescribeStateMachine":
		var in sfn.DescribeStateMachineInput
		if err = wire.DecodeJSON(body, &in); err == nil {
			out, err = sf.describeStateMachine(&in)
		}
	case "ListStateMachines":
		var in sfn.ListStateMachinesInput
		if err = wire.DecodeJSON(body, &in); err == nil {
			out, err = sf.listStateMachines(&in)
		}
	case "StartExecution":
		var in sfn.StartExecutionInput
		if err = wire.DecodeJSON(body, &in); err == nil {
			out, err = sf.StartExecution(&in)
		}
	case "DescribeExecution":
		var in sfn.DescribeExecutionInput
		if err = wire.DecodeJSON(body, &in); err == nil {
			out, err = sf.describeExecution(&in)
		}
	case "StopExecution":
		var in sfn.StopExecutionInput
		if err = wire.DecodeJSON(body, &in); err == nil {
			out, err = sf.stopExecution(&in)
		}
	case "ListExecutions":
		var in sfn.ListExecutionsInput
		if err = wire.DecodeJSON(body, &in); err == nil {
			out, err = sf.listExecutions(&in)
		}
	case "GetExecutionHistory":
		var in sfn.GetExecutionHistoryInput
		if err = wire.DecodeJSON(body, &in); err == nil {
			var raw []byte
			if raw, err = sf.getExecutionHistory(&in); err == nil {
				w.Header().Set("Content-Type", sfnJSON)
				_, _ = w.Write(raw)
				return
			}
		}
	default:
		err = &wire.Error{Code: "UnknownOperationException", Message: fmt.Sprintf("operation %s is not supported by rotor's local endpoint", op)}
	}
	if err != nil {
		wire.WriteJSONError(w, sfnJSON, err)
		return
	}
	wire.WriteJSONCamel(w, sfnJSON, out)
}

var nameRE = regexp.MustCompile("^[^\\s<>{}\\[\\]?*\"#%\\\\^|~`$&,;:/\\x00-\\x1f\\x7f-\\x9f]{1,80}$")

func (sf *Service) arn(kind, name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:%s:%s", sf.env.Region, sf.env.Account, kind, name)
}

func (sf *Service) createStateMachine(in *sfn.CreateStateMachineInput) (*sfn.CreateStateMachineOutput, error) {
	name := aws.ToString(in.Name)
	if !nameRE.MatchString(name) {
		return nil, &wire.Error{Code: "InvalidName", Message: fmt.Sprintf("Invalid Name: '%s'", name)}
	}
	if in.Type != "" && in.Type != types.StateMachineTypeStandard {
		return nil, &wire.Error{Code: "ValidationException", Message: "rotor's local endpoint runs STANDARD state machines only"}
	}
	def, err := asl.Parse([]byte(aws.ToString(in.Definition)))
	if err != nil {
		return nil, &wire.Error{Code: "InvalidDefinition", Message: "Invalid State Machine Definition: " + problems(err)}
	}
	sm := &stateMachine{ARN: sf.arn("stateMachine", name), Name: name, Definition: aws.ToString(in.Definition),
		RoleARN: aws.ToString(in.RoleArn), Created: sf.env.Now(), def: def}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if old, ok := sf.machines[sm.ARN]; ok {
		if old.Definition != sm.Definition || old.RoleARN != sm.RoleARN {
			return nil, &wire.Error{Code: "StateMachineAlreadyExists", Message: "State Machine Already Exists: '" + sm.ARN + "'"}
		}
		return &sfn.CreateStateMachineOutput{StateMachineArn: aws.String(old.ARN), CreationDate: aws.Time(old.Created)}, nil
	}
	if err := sf.put(bucketMachines, sm.ARN, sm); err != nil {
		return nil, err
	}
	sf.machines[sm.ARN] = sm
	return &sfn.CreateStateMachineOutput{StateMachineArn: aws.String(sm.ARN), CreationDate: aws.Time(sm.Created)}, nil
}

func problems(err error) string {
	var ve *asl.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var ps []string
	for _, p := range ve.Problems {
		ps = append(ps, p.String())
	}
	return strings.Join(ps, "; ")
}

func (sf *Service) machine(arn string) (*stateMachine, error) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	sm, ok := sf.machines[arn]
	if !ok {
		return nil, &wire.Error{Code: "StateMachineDoesNotExist", Message: "State Machine Does Not Exist: '" + arn + "'"}
	}
	return sm, nil
}

func (sf *Service) describeStateMachine(in *sfn.DescribeStateMachineInput) (*sfn.DescribeStateMachineOutput, error) {
	sm, err := sf.machine(aws.ToString(in.StateMachineArn))
	if err != nil {
		return nil, err
	}
	return &sfn.DescribeStateMachineOutput{StateMachineArn: aws.String(sm.ARN), Name: aws.String(sm.Name),
		Definition: aws.String(sm.Definition), RoleArn: aws.String(sm.RoleARN), Type: types.StateMachineTypeStandard,
		Status: types.StateMachineStatusActive, CreationDate: aws.Time(sm.Created)}, nil
}

func (sf *Service) listStateMachines(in *sfn.ListStateMachinesInput) (*sfn.ListStateMachinesOutput, error) {
	sf.mu.Lock()
	var all []*stateMachine
	for _, sm := range sf.machines {
		all = append(all, sm)
	}
	sf.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	machines, next, err := page(all, func(sm *stateMachine) string { return sm.ARN }, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &sfn.ListStateMachinesOutput{NextToken: next, StateMachines: []types.StateMachineListItem{}}
	for _, sm := range machines {
		out.StateMachines = append(out.StateMachines, types.StateMachineListItem{Name: aws.String(sm.Name),
			StateMachineArn: aws.String(sm.ARN), Type: types.StateMachineTypeStandard, CreationDate: aws.Time(sm.Created)})
	}
	return out, nil
}

// page returns a page of items (paginate.Page) for MaxResults and NextToken.
func page[T any](items []T, key func(T) string, max int32, token *string) ([]T, *string, error) {
	size := int(max)
	if size <= 0 || size > 1000 {
		size = 1000
	}
	p, next, ok := paginate.Page(items, key, aws.ToString(token), size, false)
	if !ok {
		return nil, nil, &wire.Error{Code: "InvalidToken", Message: "Invalid Token: '" + aws.ToString(token) + "'"}
	}
	if next == "" {
		return p, nil, nil
	}
	return p, aws.String(next), nil
}

// StartExecution starts an execution as the API does, for the server's
// wiring (EventBridge targets); refusals are *wire.Error.
func (sf *Service) StartExecution(in *sfn.StartExecutionInput) (*sfn.StartExecutionOutput, error) {
	sm, err := sf.machine(aws.ToString(in.StateMachineArn))
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	if name == "" {
		name = uuid.NewString()
	}
	if !nameRE.MatchString(name) {
		return nil, &wire.Error{Code: "InvalidName", Message: fmt.Sprintf("Invalid Name: '%s'", name)}
	}
	input := json.RawMessage(aws.ToString(in.Input))
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	if len(input) > asl.MaxPayload {
		return nil, &wire.Error{Code: "InvalidExecutionInput", Message: fmt.Sprintf("The input is %d bytes, over the maximum of %d", len(input), asl.MaxPayload)}
	}
	if err := checkExecutionInput(input); err != nil {
		return nil, err
	}
	startedBy, err := startedBy(input)
	if err != nil {
		return nil, err
	}
	ex := &execution{ARN: strings.Replace(sm.ARN, ":stateMachine:", ":execution:", 1) + ":" + name, Name: name,
		MachineARN: sm.ARN, Input: input, Start: sf.env.Now(), Status: asl.StatusRunning, StartedBy: startedBy}
	sf.mu.Lock()
	if sf.shutdown {
		sf.mu.Unlock()
		// Close detaches the executions it saw; one started after would run on.
		return nil, &wire.Error{Code: "ServiceUnavailable", Message: "the local endpoint is shutting down", Status: http.StatusServiceUnavailable}
	}
	if old, ok := sf.execs[ex.ARN]; ok {
		// AWS: the same name and input while it runs is the same call again.
		// Read under the lock: the execution may be ending right now.
		same := old.status() == asl.StatusRunning && string(old.Input) == string(input)
		start := old.Start
		sf.mu.Unlock()
		if same {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(old.ARN), StartDate: aws.Time(start)}, nil
		}
		return nil, &wire.Error{Code: "ExecutionAlreadyExists", Message: "Execution Already Exists: '" + ex.ARN + "'"}
	}
	sf.execs[ex.ARN] = ex
	err = sf.put(bucketExecutions, ex.ARN, ex)
	sf.mu.Unlock()
	if err != nil {
		return nil, err
	}
	sf.run(sm, ex, nil)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(ex.ARN), StartDate: aws.Time(ex.Start)}, nil
}

// checkExecutionInput refuses input that is not one JSON value, or that
// holds an object with a duplicate member at any depth: parsers disagree on
// which of two members wins, so a state could read one value where a check
// upstream read the other. The error names where, never a value.
func checkExecutionInput(input []byte) error {
	if err := jsonv2.Unmarshal(input, new(jsontext.Value)); err != nil {
		return &wire.Error{Code: "InvalidExecutionInput", Message: "Invalid State Machine Execution Input: " + strictjson.Describe(err)}
	}
	return nil
}

// startedBy returns the execution ARN input names in asl.StartedByKey (""
// when it names none). A value that is not an execution ARN is
// InvalidExecutionInput: the link would lead nowhere (AWS's own check of
// the value is not documented). Only a top-level member counts, where the
// developer guide puts it; the input is decoded only when it holds the key
// at all.
func startedBy(input []byte) (string, error) {
	if !bytes.Contains(input, []byte(asl.StartedByKey)) {
		return "", nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(input, &top); err != nil {
		return "", nil // not an object: the key is text in a string or an array
	}
	raw, ok := top[asl.StartedByKey]
	if !ok {
		return "", nil
	}
	var arn string
	if err := json.Unmarshal(raw, &arn); err != nil || !executionARN.MatchString(arn) {
		return "", &wire.Error{Code: "InvalidExecutionInput", Message: "Invalid State Machine Execution Input: " + asl.StartedByKey + " must be the ARN of an execution (arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME)"}
	}
	return arn, nil
}

var executionARN = regexp.MustCompile(`^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:execution:[^:]+:[^:]+$`)

// run starts (or, with past events, resumes) an execution and records how
// it ends.
func (sf *Service) run(sm *stateMachine, ex *execution, past []asl.Event) {
	opts := asl.ExecutionOptions{Name: ex.Name, ARN: ex.ARN, StateMachineName: sm.Name, StateMachineARN: sm.ARN, RoleARN: sm.RoleARN}
	// Its tasks act as the state machine's role, in a session of its own
	// (the server authorizes them under Options.EnforceIAM).
	ctx := wire.WithActing(context.Background(), wire.Acting{RoleARN: sm.RoleARN, Session: wire.SessionName(ex.ARN)})
	var x *asl.Execution
	var journal *boltJournal
	if sf.env.DB != nil {
		journal = newJournal(sf.env.DB, ex.ARN, sf.env.Log, past == nil)
		if past == nil {
			x = sf.engine.StartJournaled(ctx, sm.def, ex.Input, opts, journal)
		} else {
			x = sf.engine.Resume(ctx, sm.def, ex.Input, opts, journal, past)
		}
	} else {
		x = sf.engine.Start(ctx, sm.def, ex.Input, opts)
	}
	sf.mu.Lock()
	ex.x = x
	sf.mu.Unlock()
	sf.wg.Add(1)
	go func() {
		defer sf.wg.Done()
		res := x.Wait(context.Background())
		if journal != nil {
			// The history is complete in the file before the ending is.
			if err := journal.end(); err != nil {
				sf.env.Log.Error("persist execution history", "execution", ex.ARN, "error", err)
			}
		}
		if res.Status == asl.StatusRunning {
			return
		}
		if res.Error == "States.Detached" {
			return // a shutdown, not an ending: resume on the next start
		}
		sf.mu.Lock()
		ended := ex.endedChan() // made while still running: open
		ex.Status, ex.Output, ex.Error, ex.Cause, ex.Stop = res.Status, res.Output, res.Error, res.Cause, sf.env.Now()
		err := sf.put(bucketExecutions, ex.ARN, ex)
		close(ended) // after the record: a waiter reads the ending
		sf.mu.Unlock()
		if err != nil {
			sf.env.Log.Error("persist execution", "execution", ex.ARN, "error", err)
		}
	}()
}

func (ex *execution) status() string {
	if ex.Status == "" {
		return asl.StatusRunning
	}
	return ex.Status
}

func (sf *Service) execution(arn string) (*execution, error) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	ex, ok := sf.execs[arn]
	if !ok {
		if !strings.HasPrefix(arn, "arn:aws:states:") || !strings.Contains(arn, ":execution:") {
			return nil, &wire.Error{Code: "InvalidArn", Message: "Invalid Arn: '" + arn + "'"}
		}
		return nil, &wire.Error{Code: "ExecutionDoesNotExist", Message: "Execution Does Not Exist: '" + arn + "'"}
	}
	return ex, nil
}

func (sf *Service) describeExecution(in *sfn.DescribeExecutionInput) (*sfn.DescribeExecutionOutput, error) {
	ex, err := sf.execution(aws.ToString(in.ExecutionArn))
	if err != nil {
		return nil, err
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	out := &sfn.DescribeExecutionOutput{ExecutionArn: aws.String(ex.ARN), StateMachineArn: aws.String(ex.MachineARN),
		Name: aws.String(ex.Name), Status: types.ExecutionStatus(ex.status()), StartDate: aws.Time(ex.Start),
		Input: aws.String(string(ex.Input)), InputDetails: &types.CloudWatchEventsExecutionDataDetails{Included: true}}
	if ex.status() != asl.StatusRunning {
		out.StopDate = aws.Time(ex.Stop)
		if len(ex.Output) > 0 {
			out.Output = aws.String(string(ex.Output))
			out.OutputDetails = &types.CloudWatchEventsExecutionDataDetails{Included: true}
		}
		// StopExecution takes an error and a cause independently.
		if ex.Error != "" {
			out.Error = aws.String(ex.Error)
		}
		if ex.Cause != "" {
			out.Cause = aws.String(ex.Cause)
		}
	}
	return out, nil
}

func (sf *Service) stopExecution(in *sfn.StopExecutionInput) (*sfn.StopExecutionOutput, error) {
	ex, err := sf.execution(aws.ToString(in.ExecutionArn))
	if err != nil {
		return nil, err
	}
	sf.mu.Lock()
	x, running := ex.x, ex.status() == asl.StatusRunning
	sf.mu.Unlock()
	if !running || x == nil {
		return nil, &wire.Error{Code: "ValidationException", Message: "Execution is not running: '" + ex.ARN + "'"}
	}
	x.Stop(aws.ToString(in.Error), aws.ToString(in.Cause))
	x.Wait(context.Background())
	sf.mu.Lock()
	stop := ex.Stop
	sf.mu.Unlock()
	if stop.IsZero() {
		stop = sf.env.Now()
	}
	return &sfn.StopExecutionOutput{StopDate: aws.Time(stop)}, nil
}

func (sf *Service) listExecutions(in *sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error) {
	if _, err := sf.machine(aws.ToString(in.StateMachineArn)); err != nil {
		return nil, err
	}
	sf.mu.Lock()
	var all []*execution
	for _, ex := range sf.execs {
		if ex.MachineARN == aws.ToString(in.StateMachineArn) && (in.StatusFilter == "" || string(in.StatusFilter) == ex.status()) {
			all = append(all, ex)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].Start.Equal(all[j].Start) {
			return all[i].Start.After(all[j].Start)
		}
		return all[i].Name < all[j].Name
	})
	execs, next, err := page(all, func(ex *execution) string { return ex.ARN }, in.MaxResults, in.NextToken)
	if err != nil {
		sf.mu.Unlock()
		return nil, err
	}
	out := &sfn.ListExecutionsOutput{NextToken: next, Executions: []types.ExecutionListItem{}}
	for _, ex := range execs {
		item := types.ExecutionListItem{ExecutionArn: aws.String(ex.ARN), Name: aws.String(ex.Name),
			StateMachineArn: aws.String(ex.MachineARN), Status: types.ExecutionStatus(ex.status()), StartDate: aws.Time(ex.Start)}
		if ex.status() != asl.StatusRunning {
			item.StopDate = aws.Time(ex.Stop)
		}
		out.Executions = append(out.Executions, item)
	}
	sf.mu.Unlock()
	return out, nil
}

// getExecutionHistory answers the history in Step Functions' wire shape:
// timestamps are epoch seconds, details objects keyed by their event kind.
func (sf *Service) getExecutionHistory(in *sfn.GetExecutionHistoryInput) ([]byte, error) {
	ex, err := sf.execution(aws.ToString(in.ExecutionArn))
	if err != nil {
		return nil, err
	}
	sf.mu.Lock()
	x := ex.x
	sf.mu.Unlock()
	var events []asl.Event
	if x != nil {
		events = x.History()
	} else if events, err = sf.loadEvents(ex.ARN); err != nil {
		return nil, err
	}
	if in.ReverseOrder {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	events, next, err := page(events, func(e asl.Event) string { return strconv.FormatInt(e.ID, 10) }, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	withData := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	out := make([]map[string]any, 0, len(events))
	for _, e := range events {
		m := map[string]any{"id": e.ID, "previousEventId": e.PreviousEventID, "type": e.Type, "timestamp": wire.EpochSeconds(e.Timestamp)}
		if e.DetailsKey != "" {
			d := e.EventDetails()
			if !withData {
				d = withoutData(d)
			}
			m[e.DetailsKey] = d
		}
		out = append(out, m)
	}
	answer := map[string]any{"events": out}
	if next != nil {
		answer["nextToken"] = *next
	}
	return json.Marshal(answer)
}

// withoutData drops inputs and outputs, for IncludeExecutionData=false.
func withoutData(d map[string]any) map[string]any {
	c := make(map[string]any, len(d))
	for k, v := range d {
		switch k {
		case "input", "output", "parameters":
		default:
			c[k] = v
		}
	}
	return c
}

// Close stops running executions without recording an ending, so that a
// restart on the same data file resumes them.
func (sf *Service) Close() error {
	sf.mu.Lock()
	sf.shutdown = true
	var running []*asl.Execution
	for _, ex := range sf.execs {
		if ex.x != nil && ex.status() == asl.StatusRunning {
			running = append(running, ex.x)
		}
	}
	sf.mu.Unlock()
	for _, x := range running {
		x.Detach()
	}
	// Only now: a parent waiting in .sync must see its own detachment, not
	// the closing, or it would fail its task instead of resuming it.
	sf.closeOnce.Do(func() { close(sf.closing) })
	sf.wg.Wait()
	return nil
}

// StateMachineARN returns the ARN a state machine named name has here.
func (sf *Service) StateMachineARN(name string) string { return sf.arn("stateMachine", name) }

// Wait blocks until an execution ends (or ctx does) and returns its
// status (RUNNING when ctx ended first): an in-process host's way to
// follow an execution without polling.
func (sf *Service) Wait(ctx context.Context, arn string) (string, error) {
	d, err := sf.WaitExecution(ctx, arn)
	switch {
	case errors.Is(err, errClosing), err != nil && ctx.Err() != nil:
		return asl.StatusRunning, nil
	case err != nil:
		return "", err
	}
	return d.Status, nil
}

// WaitExecution blocks until the execution arn has ended, then describes
// it; if ctx ends first it returns ctx's error, and if the service is
// closed first an error saying so. It is the asl.WaitExecutionFunc of the
// states:startExecution.sync integrations: it waits on a channel, holding
// no lock, and an execution resumed after a restart is waited for the same
// way. An unknown execution is ExecutionDoesNotExist (*wire.Error).
func (sf *Service) WaitExecution(ctx context.Context, arn string) (*asl.ExecutionDescription, error) {
	ex, err := sf.execution(arn)
	if err != nil {
		return nil, err
	}
	sf.mu.Lock()
	ended := ex.endedChan()
	sf.mu.Unlock()
	select {
	case <-ended:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-sf.closing:
		return nil, errClosing
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	return &asl.ExecutionDescription{ExecutionARN: ex.ARN, StateMachineARN: ex.MachineARN, Name: ex.Name, Status: ex.status(),
		StartDate: ex.Start, StopDate: ex.Stop, Input: string(ex.Input), Output: string(ex.Output), Error: ex.Error, Cause: ex.Cause}, nil
}

// StopExecution stops a running execution, as the API does: the
// asl.StopExecutionFunc of the .sync integrations. An execution that is
// not running is ValidationException (*wire.Error).
func (sf *Service) StopExecution(_ context.Context, arn, errName, cause string) error {
	_, err := sf.stopExecution(&sfn.StopExecutionInput{ExecutionArn: aws.String(arn), Error: aws.String(errName), Cause: aws.String(cause)})
	return err
}

// StartedBy returns the execution that started arn, as its input named it
// in asl.StartedByKey ("" when it named none). Step Functions' API has no
// such call: on AWS, read the member from DescribeExecution's input.
func (sf *Service) StartedBy(arn string) (string, error) {
	ex, err := sf.execution(arn)
	if err != nil {
		return "", err
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	return ex.StartedBy, nil
}

// Children lists the executions whose input named parentARN in
// asl.StartedByKey, oldest first (then by name), as ListExecutions
// describes them. Step Functions' API has no such call: on AWS, the
// parent's history holds each child's ARN (the TaskSucceeded or
// TaskSubmitted output of its startExecution tasks).
func (sf *Service) Children(parentARN string) []types.ExecutionListItem {
	sf.mu.Lock()
	var kids []*execution
	for _, ex := range sf.execs {
		if ex.StartedBy == parentARN {
			kids = append(kids, ex)
		}
	}
	sort.Slice(kids, func(i, j int) bool {
		if !kids[i].Start.Equal(kids[j].Start) {
			return kids[i].Start.Before(kids[j].Start)
		}
		return kids[i].Name < kids[j].Name
	})
	out := make([]types.ExecutionListItem, 0, len(kids))
	for _, ex := range kids {
		item := types.ExecutionListItem{ExecutionArn: aws.String(ex.ARN), Name: aws.String(ex.Name),
			StateMachineArn: aws.String(ex.MachineARN), Status: types.ExecutionStatus(ex.status()), StartDate: aws.Time(ex.Start)}
		if ex.status() != asl.StatusRunning {
			item.StopDate = aws.Time(ex.Stop)
		}
		out = append(out, item)
	}
	sf.mu.Unlock()
	return out
}
