package rotorcdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"

	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/strictjson"
)

// Config is what a deployment chooses, as the CDK app reads it from the
// "rotor" key of cdk.json's context (or `cdk deploy -c rotor='{...}'`).
// Unknown fields are errors; every default is written on its field.
type Config struct {
	// Secrets rotated on their own schedule (besides the sweeper).
	Secrets []ScheduledSecret `json:"secrets"`
	// SweeperSchedule runs {"trigger": "sweep"}, which rotates every managed
	// secret that is due (its rotor:schedule came round or it is older than
	// its rotor:max-age) and may start (inside its rotor:window, not
	// rotor:paused). Default "rate(15 minutes)", so that a schedule or a
	// window is kept to within 15 minutes; "off" disables it.
	SweeperSchedule string `json:"sweeperSchedule"`
	// SweeperTimeZone is the IANA time zone of a cron sweeper schedule.
	// Default "UTC".
	SweeperTimeZone string `json:"sweeperTimeZone"`
	// AlertEmails subscribe to the notification topic (each address must
	// confirm the subscription).
	AlertEmails []string `json:"alertEmails"`
	// LogRetentionDays keeps the functions' and the state machine's logs.
	// Default 30; must be a value CloudWatch Logs accepts.
	LogRetentionDays int `json:"logRetentionDays"`
	// WriteBudget is the Secrets Manager writes per second that rotor's
	// rotations may spend together, out of the 50 per second every writer
	// in the account and Region shares (not adjustable): sweeps start
	// children at WriteBudget/4 per second (4 writes per rotation).
	// Default 10; from 0.1 to 45.
	WriteBudget float64 `json:"writeBudget"`
	// LeakSources choose which leak alerts start emergency rotations.
	// Default: all enabled.
	LeakSources *LeakSources `json:"leakSources"`
	// LockTTL is how old another rotation's AWSPENDING must be before it is
	// reclaimed. Default "30m".
	LockTTL string `json:"lockTtl"`
	// StateMachineName names the state machine. Default "rotor-rotation",
	// the name the rotor CLI looks for.
	StateMachineName string `json:"stateMachineName"`
	// VPC places the functions that reach credential targets (create,
	// verify, expire) in these subnets, for databases with no public
	// endpoint. Default: no VPC. Those subnets need a route to Secrets
	// Manager (an interface endpoint or a NAT gateway), and to IAM and STS
	// for awsiam secrets.
	VPC *VPC `json:"vpc"`
	// SecretNamePrefixes restricts rotor to the secrets whose names start
	// with one of these prefixes ("prod/", "team-a/"): managed secrets and
	// their master secrets alike. Every Secrets Manager permission of the
	// functions names the ARNs arn:...:secret:<prefix>* of the stack's
	// account and Region, the IAM users rotor may act on must name such a
	// secret in their rotor:secret tag, and the functions refuse any other
	// secret before calling AWS (ROTOR_SECRET_PREFIXES). Each prefix is 1 to
	// 256 letters, digits and /_+=.@- (no wildcards, no commas). Default:
	// none, every secret name in the stack's account and Region.
	SecretNamePrefixes []string `json:"secretNamePrefixes"`
	// WebhookReservedConcurrency reserves that many concurrent executions
	// for the webhook function, which also caps it there: a flood of
	// unauthenticated requests to its public URL is throttled at that
	// number instead of taking the account's concurrency from the rotation
	// functions. Default 5. 0 reserves nothing (and caps nothing), for
	// accounts whose concurrency quota is too small to reserve any: Lambda
	// keeps 100 executions unreserved, and new accounts often have a quota
	// of 10 until they ask for more.
	WebhookReservedConcurrency *int `json:"webhookReservedConcurrency"`
	// EventBusName is the EventBridge bus of this account and Region that
	// the state machine puts its outcome events on (source "rotor"; the
	// detail-types are statemachine.DetailType*), by name. Default
	// "default", the account's default bus. Another bus must exist: the
	// construct does not create it. Not rotor-leaks, the leak alerts' bus.
	EventBusName string `json:"eventBusName"`
}

// VPC is where the target-facing functions run.
type VPC struct {
	// SubnetIDs are private subnets, ideally in two or more Availability
	// Zones. Required.
	SubnetIDs []string `json:"subnetIds"`
	// SecurityGroupIDs must allow the functions' outbound traffic to the
	// targets (PostgreSQL's port) and to the AWS endpoints. Required.
	SecurityGroupIDs []string `json:"securityGroupIds"`
}

// ScheduledSecret is one secret on its own schedule.
type ScheduledSecret struct {
	// SecretID is the secret's name or ARN. Required.
	SecretID string `json:"secretId"`
	// Schedule is an EventBridge Scheduler expression: "rate(30 days)",
	// "cron(0 3 ? * SUN *)". Required.
	Schedule string `json:"schedule"`
	// TimeZone of a cron expression. Default "UTC".
	TimeZone string `json:"timeZone"`
	// GracePeriod overrides the secret's rotor:grace-period tag (a Go
	// duration, e.g. "2h"). Default: the tag.
	GracePeriod string `json:"gracePeriod"`
}

// LeakSources enables the alert sources.
type LeakSources struct {
	GuardDuty bool `json:"guardDuty"` // GuardDuty findings about IAM access keys
	Health    bool `json:"health"`    // AWS Health AWS_RISK_CREDENTIALS_EXPOSED
	EventBus  bool `json:"eventBus"`  // the rotor-leaks event bus
}

// retentionDays maps the retentions CloudWatch Logs accepts to CDK's enum.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// ParseConfig decodes a configuration strictly and fills the defaults.
// An empty document is the default configuration.
func ParseConfig(data []byte) (*Config, error) {
	c := &Config{}
	if len(bytes.TrimSpace(data)) > 0 {
		var old struct {
			MaxConcurrency *json.RawMessage `json:"maxConcurrency"`
		}
		if json.Unmarshal(data, &old) == nil && old.MaxConcurrency != nil {
			return nil, fmt.Errorf("rotor configuration: maxConcurrency is gone: each secret now rotates in its own child execution, paced by writeBudget (Secrets Manager writes per second, default %g)", rotation.DefaultWriteBudget)
		}
		if err := strictjson.Decode(data, c); err != nil {
			return nil, fmt.Errorf("rotor configuration: %w", err)
		}
	}
	if c.SweeperSchedule == "" {
		c.SweeperSchedule = "rate(15 minutes)"
	}
	if c.SweeperTimeZone == "" {
		c.SweeperTimeZone = "UTC"
	}
	if c.LogRetentionDays == 0 {
		c.LogRetentionDays = 30
	}
	if c.WriteBudget == 0 {
		c.WriteBudget = rotation.DefaultWriteBudget
	}
	if c.LeakSources == nil {
		c.LeakSources = &LeakSources{GuardDuty: true, Health: true, EventBus: true}
	}
	if c.LockTTL == "" {
		c.LockTTL = "30m"
	}
	if c.StateMachineName == "" {
		c.StateMachineName = "rotor-rotation"
	}
	if c.WebhookReservedConcurrency == nil {
		n := defaultWebhookConcurrency
		c.WebhookReservedConcurrency = &n
	}
	if c.EventBusName == "" {
		c.EventBusName = DefaultEventBus
	}
	var problems []string
	if _, ok := retentionDays[c.LogRetentionDays]; !ok {
		problems = append(problems, fmt.Sprintf("logRetentionDays %d is not a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)", c.LogRetentionDays))
	}
	if c.WriteBudget < rotation.MinWriteBudget || c.WriteBudget > rotation.MaxWriteBudget {
		problems = append(problems, fmt.Sprintf("writeBudget %g is outside %g..%g writes per second (Secrets Manager allows 50 per second per account and Region, shared with every other writer)",
			c.WriteBudget, rotation.MinWriteBudget, rotation.MaxWriteBudget))
	}
	if d, err := time.ParseDuration(c.LockTTL); err != nil || d <= 0 {
		problems = append(problems, fmt.Sprintf("lockTtl %q is not a positive Go duration", c.LockTTL))
	}
	if !stateMachineName.MatchString(c.StateMachineName) {
		problems = append(problems, fmt.Sprintf("stateMachineName %q is not 1 to 80 letters, digits, - or _", c.StateMachineName))
	}
	if c.SweeperSchedule != "off" && !validSchedule(c.SweeperSchedule) {
		problems = append(problems, fmt.Sprintf("sweeperSchedule %q is not rate(...), cron(...) or off", c.SweeperSchedule))
	}
	seen := map[string]bool{}
	for i, s := range c.Secrets {
		where := fmt.Sprintf("secrets[%d]", i)
		if s.SecretID == "" {
			problems = append(problems, where+": secretId is required")
		}
		if seen[s.SecretID] {
			problems = append(problems, fmt.Sprintf("%s: secret %q is listed twice", where, s.SecretID))
		}
		seen[s.SecretID] = true
		if !validSchedule(s.Schedule) {
			problems = append(problems, fmt.Sprintf("%s: schedule %q is not rate(...) or cron(...)", where, s.Schedule))
		}
		if s.GracePeriod != "" {
			if d, err := time.ParseDuration(s.GracePeriod); err != nil || d < 0 {
				problems = append(problems, fmt.Sprintf("%s: gracePeriod %q is not a Go duration", where, s.GracePeriod))
			}
		}
		if c.Secrets[i].TimeZone == "" {
			c.Secrets[i].TimeZone = "UTC"
		}
		if _, err := time.LoadLocation(c.Secrets[i].TimeZone); err != nil {
			problems = append(problems, fmt.Sprintf("%s: timeZone %q is not an IANA time zone", where, s.TimeZone))
		}
	}
	if v := c.VPC; v != nil {
		if len(v.SubnetIDs) == 0 {
			problems = append(problems, "vpc: subnetIds is required")
		}
		if len(v.SecurityGroupIDs) == 0 {
			problems = append(problems, "vpc: securityGroupIds is required")
		}
		for _, id := range v.SubnetIDs {
			if !subnetID.MatchString(id) {
				problems = append(problems, fmt.Sprintf("vpc: %q is not a subnet id (subnet-0123abcd...)", id))
			}
		}
		for _, id := range v.SecurityGroupIDs {
			if !securityGroupID.MatchString(id) {
				problems = append(problems, fmt.Sprintf("vpc: %q is not a security group id (sg-0123abcd...)", id))
			}
		}
	}
	problems = append(problems, prefixProblems(c.SecretNamePrefixes)...)
	problems = append(problems, eventBusProblems(c.EventBusName)...)
	if n := *c.WebhookReservedConcurrency; n < 0 {
		problems = append(problems, fmt.Sprintf("webhookReservedConcurrency %d is negative (0 reserves nothing)", n))
	}
	for _, e := range c.AlertEmails {
		if !strings.Contains(e, "@") {
			problems = append(problems, fmt.Sprintf("alertEmails: %q is not an email address", e))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("rotor configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return c, nil
}

var (
	stateMachineName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	subnetID         = regexp.MustCompile(`^subnet-[0-9a-f]{8}([0-9a-f]{9})?$`)
	securityGroupID  = regexp.MustCompile(`^sg-[0-9a-f]{8}([0-9a-f]{9})?$`)
)

const defaultWebhookConcurrency = 5

// DefaultEventBus is the bus outcome events go to by default: the
// account's default bus.
const DefaultEventBus = "default"

var eventBusName = regexp.MustCompile(`^[/.\-_A-Za-z0-9]{1,256}$`)

// eventBusProblems checks Config.EventBusName: a bus name EventBridge
// accepts, given by name (the construct builds the ARN it grants
// events:PutEvents on), and not the leak alerts' bus.
func eventBusProblems(name string) []string {
	switch {
	case strings.HasPrefix(name, "arn:"):
		return []string{fmt.Sprintf("eventBusName %q is an ARN: give the bus's name (a bus of the stack's account and Region)", name)}
	case !eventBusName.MatchString(name):
		return []string{fmt.Sprintf("eventBusName %q is not 1 to 256 letters, digits and /._-", name)}
	case name == LeakBusName:
		return []string{fmt.Sprintf("eventBusName %q is the leak alerts' bus: outcome events go to the default bus or a bus of their own", name)}
	}
	return nil
}

// prefixProblems checks secret name prefixes with the rules the functions
// apply to ROTOR_SECRET_PREFIXES (rotation.ParsePrefixes), one prefix at a
// time: a comma or a space inside one would otherwise pass as two prefixes,
// or be trimmed, in the comma-joined variable.
func prefixProblems(prefixes []string) []string {
	var problems []string
	seen := map[string]bool{}
	for i, p := range prefixes {
		where := fmt.Sprintf("secretNamePrefixes[%d]", i)
		parsed, err := rotation.ParsePrefixes(p)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", where, err))
		case len(parsed) != 1 || parsed[0] != p:
			problems = append(problems, fmt.Sprintf("%s: %q is not one prefix of letters, digits and /_+=.@- (no commas, no spaces)", where, p))
		case seen[p]:
			problems = append(problems, fmt.Sprintf("%s: %q is listed twice", where, p))
		}
		seen[p] = true
	}
	return problems
}

func validSchedule(s string) bool {
	return (strings.HasPrefix(s, "rate(") || strings.HasPrefix(s, "cron(")) && strings.HasSuffix(s, ")")
}

// gracePeriodSeconds converts a configured grace period.
func gracePeriodSeconds(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	d, _ := time.ParseDuration(s)
	return int64(d / time.Second), true
}
