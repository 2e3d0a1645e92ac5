package events

import (
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/localaws/wire"
	"github.com/rotorhq/rotor/internal/paginate"
)

// Buses.

func (e *Service) createEventBus(in *eventbridge.CreateEventBusInput) (*eventbridge.CreateEventBusOutput, error) {
	name := aws.ToString(in.Name)
	switch {
	case aws.ToString(in.EventSourceName) != "":
		return nil, ebValidation("rotor's local endpoint has no partner event sources (EventSourceName)")
	case !busNameRE.MatchString(name):
		return nil, ebPatternError(name, "name", `[/\.\-_A-Za-z0-9]+`)
	case strings.Contains(name, "/") || strings.HasPrefix(name, "aws."):
		return nil, ebValidation("Event bus name must not contain '/' or start with 'aws.': those are partner event buses.")
	case len(aws.ToString(in.Description)) > 512:
		return nil, ebValidation("Description must be at most 512 characters.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.buses[name]; ok {
		return nil, &ebtypes.ResourceAlreadyExistsException{Message: aws.String("Event bus " + name + " already exists.")}
	}
	now := e.env.Now().UTC()
	b := &ebBus{Name: name, ARN: e.busARN(name), Description: aws.ToString(in.Description), Created: now, Modified: now}
	if err := e.update(func(bk *bbolt.Bucket) error { return wire.PutJSON(bk, ebBusKey+name, b) }); err != nil {
		return nil, err
	}
	e.buses[name] = b
	return &eventbridge.CreateEventBusOutput{EventBusArn: aws.String(b.ARN), Description: in.Description}, nil
}

// deleteEventBus deletes a bus and its rules; a bus that does not exist is
// not an error (as in EventBridge).
func (e *Service) deleteEventBus(in *eventbridge.DeleteEventBusInput) (*eventbridge.DeleteEventBusOutput, error) {
	name, err := busName(in.Name)
	if err != nil {
		return nil, err
	}
	if name == defaultBus {
		return nil, ebValidation("Cannot delete event bus default.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.buses[name]; !ok {
		return &eventbridge.DeleteEventBusOutput{}, nil
	}
	var rules []string
	for k, r := range e.rules {
		if r.Bus == name {
			rules = append(rules, k)
		}
	}
	err = e.update(func(b *bbolt.Bucket) error {
		for _, k := range rules {
			if err := b.Delete([]byte(ebRuleKey + k)); err != nil {
				return err
			}
		}
		return b.Delete([]byte(ebBusKey + name))
	})
	if err != nil {
		return nil, err
	}
	for _, k := range rules {
		delete(e.rules, k)
	}
	delete(e.buses, name)
	return &eventbridge.DeleteEventBusOutput{}, nil
}

func (e *Service) describeEventBus(in *eventbridge.DescribeEventBusInput) (*eventbridge.DescribeEventBusOutput, error) {
	name, err := busName(in.Name)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.buses[name]
	if !ok {
		return nil, busNotFound(name)
	}
	return &eventbridge.DescribeEventBusOutput{Name: aws.String(b.Name), Arn: aws.String(b.ARN), Description: nonEmpty(b.Description),
		CreationTime: aws.Time(b.Created), LastModifiedTime: aws.Time(b.Modified)}, nil
}

func (e *Service) listEventBuses(in *eventbridge.ListEventBusesInput) (*eventbridge.ListEventBusesOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for name := range e.buses {
		if strings.HasPrefix(name, aws.ToString(in.NamePrefix)) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	page, next, err := ebPage(names, func(n string) string { return n }, in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &eventbridge.ListEventBusesOutput{NextToken: next, EventBuses: []ebtypes.EventBus{}}
	for _, name := range page {
		b := e.buses[name]
		out.EventBuses = append(out.EventBuses, ebtypes.EventBus{Name: aws.String(b.Name), Arn: aws.String(b.ARN),
			Description: nonEmpty(b.Description), CreationTime: aws.Time(b.Created), LastModifiedTime: aws.Time(b.Modified)})
	}
	return out, nil
}

// ebPage returns a page of items (paginate.Page) for Limit and NextToken.
func ebPage[T any](items []T, key func(T) string, limit *int32, token *string) ([]T, *string, error) {
	size := maxPageSize
	if limit != nil {
		if *limit < 1 || *limit > maxPageSize {
			return nil, nil, ebValidation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *limit, maxPageSize)
		}
		size = int(*limit)
	}
	page, next, ok := paginate.Page(items, key, aws.ToString(token), size, false)
	if !ok {
		return nil, nil, ebValidation("The NextToken provided is invalid.")
	}
	if next == "" {
		return page, nil, nil
	}
	return page, aws.String(next), nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
