package rotorlocal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/rotorhq/rotor/internal/cfn"
	"github.com/rotorhq/rotor/internal/localaws/iam"
	"github.com/rotorhq/rotor/internal/webhook"
)

// What the template declares, created on the endpoint in dependency order.

// deploy loads the template and creates what it declares, in dependency
// order. What exists already (a data file from an earlier start) is kept.
func (h *Host) deploy(ctx context.Context, o Options) error {
	known, err := h.preDeploy(ctx, o.Template)
	if err != nil {
		return err
	}
	d, err := cfn.Load(o.Template, cfn.Env{Partition: "aws", Region: Region, Account: Account, StackName: StackName, Known: known})
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	h.Deployment = d
	if len(d.Unmodelled) > 0 {
		o.Log.Info("resources the local endpoint does not deploy", "resources", unmodelledSummary(d.Unmodelled))
	}
	for _, r := range d.Roles {
		if _, err := h.Server.IAM.PutRole(iam.Role{Name: r.Name, Path: r.Path, AssumeRolePolicy: r.AssumeRolePolicy, Policies: r.Policies}); err != nil {
			return fmt.Errorf("role %s: %w", r.LogicalID, err)
		}
	}
	if err := h.deployTopics(ctx, d); err != nil {
		return err
	}
	if err := h.deployTables(ctx, d); err != nil {
		return err
	}
	if err := h.deployFunctions(ctx, o, d); err != nil {
		return err
	}
	h.findWebhook(d)
	for _, m := range d.StateMachines {
		out, err := h.StepFunctions().CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(m.Name),
			Definition: aws.String(m.Definition), RoleArn: aws.String(m.RoleARN)})
		if err != nil {
			return fmt.Errorf("state machine %s: %w", m.LogicalID, err)
		}
		if got := aws.ToString(out.StateMachineArn); got != m.ARN {
			return fmt.Errorf("state machine %s: created as %s, but the template resolves it to %s", m.LogicalID, got, m.ARN)
		}
		if h.StateMachineARN == "" {
			h.StateMachineARN = m.ARN
		}
	}
	if h.StateMachineARN == "" {
		return errors.New("template: no AWS::StepFunctions::StateMachine: is this rotor's template?")
	}
	if err := h.deployEvents(ctx, d); err != nil {
		return err
	}
	return h.Server.HandleAdmin("/_rotor/schedules/", http.HandlerFunc(h.serveFire))
}

// preDeploy creates what the template cannot name before it exists (the
// secrets, whose ARNs end in a random suffix) and chooses the physical
// names rotor local keeps stable. It returns them as cfn.Env.Known.
func (h *Host) preDeploy(ctx context.Context, template []byte) (map[string]map[string]string, error) {
	var t struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]json.RawMessage
			Metadata   map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	known := map[string]map[string]string{}
	webhookSecret := ""
	count := map[string]int{}
	for _, r := range t.Resources {
		count[r.Type]++
	}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := t.Resources[id]
		switch r.Type {
		case "AWS::Lambda::Function":
			var fn string
			if err := json.Unmarshal(r.Metadata[cfnMetadataFunction], &fn); err != nil || fn == "" {
				return nil, fmt.Errorf("template: function %s has no %q metadata naming which of rotor's functions it is (synthesize it with this version's construct)", id, cfnMetadataFunction)
			}
			name := FunctionPrefix + fn
			known[id] = map[string]string{"Name": name, "Ref": name,
				"Arn": fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, Account, name)}
			var env struct{ Variables map[string]json.RawMessage }
			_ = json.Unmarshal(r.Properties["Environment"], &env)
			var ref struct{ Ref string }
			if json.Unmarshal(env.Variables[webhook.EnvSecret], &ref) == nil && ref.Ref != "" {
				webhookSecret = ref.Ref
			}
		case "AWS::SNS::Topic":
			if count[r.Type] == 1 {
				known[id] = map[string]string{"Name": TopicName, "TopicName": TopicName,
					"Ref": fmt.Sprintf("arn:aws:sns:%s:%s:%s", Region, Account, TopicName)}
				known[id]["TopicArn"] = known[id]["Ref"]
			}
		case "AWS::DynamoDB::Table":
			if count[r.Type] == 1 {
				known[id] = map[string]string{"Name": LedgerTable, "Ref": LedgerTable,
					"Arn": fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", Region, Account, LedgerTable)}
			}
		}
	}
	for _, id := range ids {
		r := t.Resources[id]
		if r.Type != "AWS::Lambda::Url" {
			continue
		}
		var target struct {
			GetAtt []string `json:"Fn::GetAtt"`
		}
		if err := json.Unmarshal(r.Properties["TargetFunctionArn"], &target); err != nil || len(target.GetAtt) != 2 || known[target.GetAtt[0]] == nil {
			return nil, fmt.Errorf("template: function URL %s: TargetFunctionArn is not the Arn of a function of the template", id)
		}
		known[id] = map[string]string{"FunctionUrl": h.Server.FunctionURL(known[target.GetAtt[0]]["Name"])}
	}
	for _, id := range ids {
		r := t.Resources[id]
		if r.Type != "AWS::SecretsManager::Secret" {
			continue
		}
		name := StackName + "-" + id
		if id == webhookSecret {
			name = WebhookKeysSecret
		}
		if raw, ok := r.Properties["Name"]; ok {
			if err := json.Unmarshal(raw, &name); err != nil {
				return nil, fmt.Errorf("template: secret %s: Name is not a literal string", id)
			}
		}
		var fill []string
		if id == webhookSecret {
			fill = webhookKeyNames
		}
		arn, err := h.createSecret(ctx, id, name, r.Properties, fill)
		if err != nil {
			return nil, err
		}
		known[id] = map[string]string{"Name": name, "Ref": arn, "Id": arn}
	}
	return known, nil
}

// createSecret creates a secret of the template with its literal or
// generated value, or finds it from an earlier start. The keys named by
// fill that the generated JSON leaves empty get random values.
func (h *Host) createSecret(ctx context.Context, id, name string, props map[string]json.RawMessage, fill []string) (string, error) {
	sm := h.SecretsManager()
	if out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)}); err == nil {
		return aws.ToString(out.ARN), nil
	}
	var desc, value string
	_ = json.Unmarshal(props["Description"], &desc)
	if raw, ok := props["SecretString"]; ok {
		if err := json.Unmarshal(raw, &value); err != nil {
			return "", fmt.Errorf("template: secret %s: SecretString is not a literal string", id)
		}
	} else {
		var g struct {
			SecretStringTemplate string
			GenerateStringKey    string
			PasswordLength       int
			ExcludePunctuation   bool
		}
		if raw, ok := props["GenerateSecretString"]; ok {
			if err := json.Unmarshal(raw, &g); err != nil {
				return "", fmt.Errorf("template: secret %s: GenerateSecretString: %w", id, err)
			}
		}
		if g.PasswordLength == 0 {
			g.PasswordLength = 32
		}
		generated := randomKey(g.PasswordLength)
		value = generated
		if g.SecretStringTemplate != "" {
			var obj map[string]any
			if err := json.Unmarshal([]byte(g.SecretStringTemplate), &obj); err != nil {
				return "", fmt.Errorf("template: secret %s: SecretStringTemplate is not a JSON object", id)
			}
			obj[g.GenerateStringKey] = generated
			for _, k := range fill {
				if v, _ := obj[k].(string); v == "" {
					obj[k] = randomKey(g.PasswordLength)
				}
			}
			b, _ := json.Marshal(obj)
			value = string(b)
		}
	}
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
		Description: aws.String(desc), SecretString: aws.String(value)})
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", id, err)
	}
	return aws.ToString(out.ARN), nil
}

// findWebhook notes the webhook's keys secret and function URL. Its
// signing keys are complete from the secret's creation (createSecret).
func (h *Host) findWebhook(d *cfn.Deployment) {
	fn, ok := h.Functions[WebhookFunction]
	if !ok {
		return
	}
	f, _ := h.function(fn)
	h.WebhookKeys = f.Env[webhook.EnvSecret]
	for _, u := range d.FunctionURLs {
		if u.Function == fn {
			h.WebhookURL = h.Server.FunctionURL(fn)
		}
	}
}

func (h *Host) deployTopics(ctx context.Context, d *cfn.Deployment) error {
	for _, t := range d.Topics {
		in := &sns.CreateTopicInput{Name: aws.String(t.Name)}
		if t.KMSKeyARN != "" {
			in.Attributes = map[string]string{"KmsMasterKeyId": t.KMSKeyARN}
		}
		out, err := sns.NewFromConfig(h.awsConfig()).CreateTopic(ctx, in)
		if err != nil {
			return fmt.Errorf("topic %s: %w", t.LogicalID, err)
		}
		if got := aws.ToString(out.TopicArn); got != t.ARN {
			return fmt.Errorf("topic %s: created as %s, but the template resolves it to %s", t.LogicalID, got, t.ARN)
		}
		if h.TopicARN == "" {
			h.TopicARN = t.ARN
		}
	}
	return nil
}

// deployTables creates the tables (kept from an earlier start on the same
// data file) with their TTL attribute.
func (h *Host) deployTables(ctx context.Context, d *cfn.Deployment) error {
	db := dynamodb.NewFromConfig(h.awsConfig())
	for _, t := range d.Tables {
		attrs := []ddbtypes.AttributeDefinition{{AttributeName: aws.String(t.HashKey), AttributeType: ddbtypes.ScalarAttributeType(t.HashKeyType)}}
		keys := []ddbtypes.KeySchemaElement{{AttributeName: aws.String(t.HashKey), KeyType: ddbtypes.KeyTypeHash}}
		if t.RangeKey != "" {
			attrs = append(attrs, ddbtypes.AttributeDefinition{AttributeName: aws.String(t.RangeKey), AttributeType: ddbtypes.ScalarAttributeType(t.RangeKeyType)})
			keys = append(keys, ddbtypes.KeySchemaElement{AttributeName: aws.String(t.RangeKey), KeyType: ddbtypes.KeyTypeRange})
		}
		_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(t.Name), BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: attrs, KeySchema: keys})
		var inUse *ddbtypes.ResourceInUseException
		if errors.As(err, &inUse) {
			continue
		}
		if err != nil {
			return fmt.Errorf("table %s: %w", t.LogicalID, err)
		}
		if t.TTLAttribute != "" {
			if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(t.Name),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true)}}); err != nil {
				return fmt.Errorf("table %s TTL: %w", t.LogicalID, err)
			}
		}
	}
	return nil
}

// deployEvents creates the buses, the rules with their targets and the
// schedules (which fire on demand: FireSchedule).
func (h *Host) deployEvents(ctx context.Context, d *cfn.Deployment) error {
	eb := eventbridge.NewFromConfig(h.awsConfig())
	for _, b := range d.Buses {
		_, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(b.Name)})
		var exists *ebtypes.ResourceAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("event bus %s: %w", b.LogicalID, err)
		}
	}
	for _, r := range d.Rules {
		if r.Schedule != "" {
			return fmt.Errorf("rule %s: scheduled rules (%s) are not modelled: use an AWS::Scheduler::Schedule", r.LogicalID, r.Schedule)
		}
		state := ebtypes.RuleStateEnabled
		if !r.Enabled {
			state = ebtypes.RuleStateDisabled
		}
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(r.Name), EventBusName: aws.String(r.Bus),
			Description: aws.String(r.Description), EventPattern: aws.String(r.Pattern), State: state}); err != nil {
			return fmt.Errorf("rule %s: %w", r.LogicalID, err)
		}
		var targets []ebtypes.Target
		for _, t := range r.Targets {
			et := ebtypes.Target{Id: aws.String(t.ID), Arn: aws.String(t.ARN), RoleArn: nonEmpty(t.RoleARN),
				Input: nonEmpty(t.Input), InputPath: nonEmpty(t.InputPath)}
			if t.InputTemplate != "" {
				et.InputTransformer = &ebtypes.InputTransformer{InputPathsMap: t.InputPathsMap, InputTemplate: aws.String(t.InputTemplate)}
			}
			targets = append(targets, et)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.Name), EventBusName: aws.String(r.Bus),
			Targets: targets}); err != nil {
			return fmt.Errorf("targets of rule %s: %w", r.LogicalID, err)
		}
	}
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// unmodelledSummary counts the resources not deployed by type:
// "AWS::Logs::LogGroup x7, ...".
func unmodelledSummary(rs []cfn.Resource) string {
	n := map[string]int{}
	for _, r := range rs {
		n[r.Type]++
	}
	types := make([]string, 0, len(n))
	for t := range n {
		types = append(types, t)
	}
	sort.Strings(types)
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = t + " x" + strconv.Itoa(n[t])
	}
	return strings.Join(parts, ", ")
}

// Unmodelled is unmodelledSummary of the deployment's.
func (h *Host) Unmodelled() string { return unmodelledSummary(h.Deployment.Unmodelled) }

func randomKey(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)[:n]
}

// cfnMetadataFunction is infra/rotorcdk.MetadataFunction (the construct's
// package is not imported here: it pulls in the CDK).
const cfnMetadataFunction = "rotor:function"

// webhookKeyNames are the signing keys of the webhook's secret.
var webhookKeyNames = []string{"github", "gitguardian", "generic"}
