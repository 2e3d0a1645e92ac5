package cfn

// Deployment is what a synthesized CloudFormation template declares, with
// every intrinsic resolved to the local endpoint's names and ARNs: what
// rotorlocal deploys. Slices are sorted by logical ID.
type Deployment struct {
	Env           Env
	Roles         []Role
	Functions     []Function
	FunctionURLs  []FunctionURL
	StateMachines []StateMachine
	Topics        []Topic
	Keys          []Key // AWS::KMS::Key: only its ARN (the topic's encryption key)
	Buses         []Bus
	Rules         []Rule
	Schedules     []Schedule
	Tables        []Table
	Secrets       []Secret
	// Unmodelled lists every resource the local endpoint does not deploy
	// (log groups, alarms, queues, permissions, policies on topics and
	// queues, CDK metadata, ...): reported at start, never dropped silently.
	// Their Ref and attributes still resolve, so policies naming them load.
	Unmodelled []Resource
	Outputs    map[string]Output
}

// Env is where the template is deployed.
type Env struct {
	Partition string // default "aws"
	Region    string
	Account   string
	StackName string // the prefix of generated physical names
	// Known supplies values a service assigns at creation and the template
	// cannot predict: logical ID -> "Ref" or attribute name -> value (a
	// secret's ARN with its random suffix, a function URL). The deployer
	// loads the template a second time once it knows them.
	Known map[string]map[string]string
}

// Resource names a resource of the template.
type Resource struct {
	LogicalID string
	Type      string
}

// Role is an AWS::IAM::Role with the AWS::IAM::Policy resources attached
// to it (by Roles) and its inline Policies.
type Role struct {
	LogicalID        string
	Name, Path, ARN  string
	AssumeRolePolicy string            // JSON
	Policies         map[string]string // policy name -> JSON document
	// Explain is the role's metadata "rotor:needs" (MetadataNeeds):
	// action -> why the role needs it although no local run exercises it.
	Explain map[string]string
}

// Function is an AWS::Lambda::Function.
type Function struct {
	LogicalID string
	Name, ARN string
	// Rotor is the resource's metadata "rotor:function" (MetadataFunction):
	// which of rotor's functions it is (resolve, create, ..., webhook); ""
	// if absent.
	Rotor               string
	Env                 map[string]string
	MemoryMB            int
	TimeoutSeconds      int
	RoleARN             string
	ReservedConcurrency int // 0: none
}

// FunctionURL is an AWS::Lambda::Url.
type FunctionURL struct {
	LogicalID string
	Function  string // the function's name
	AuthType  string // NONE or AWS_IAM
}

// StateMachine is an AWS::StepFunctions::StateMachine, its definition with
// DefinitionSubstitutions applied.
type StateMachine struct {
	LogicalID  string
	Name, ARN  string
	Definition string
	RoleARN    string
}

// Topic is an AWS::SNS::Topic.
type Topic struct {
	LogicalID string
	Name, ARN string
	KMSKeyARN string // "" when not encrypted
}

// Key is an AWS::KMS::Key.
type Key struct {
	LogicalID string
	ID, ARN   string
}

// Bus is an AWS::Events::EventBus.
type Bus struct {
	LogicalID string
	Name, ARN string
}

// Rule is an AWS::Events::Rule with its targets.
type Rule struct {
	LogicalID   string
	Name, ARN   string
	Bus         string // "default" when the template names none
	Description string
	Pattern     string // JSON
	Schedule    string // ScheduleExpression, when the rule is scheduled
	Enabled     bool
	Targets     []Target
}

// Target is a rule's or a schedule's target.
type Target struct {
	ID        string
	ARN       string
	RoleARN   string
	Input     string // constant input ("" when none)
	InputPath string
	// InputTransformer, when set.
	InputPathsMap map[string]string
	InputTemplate string
	DeadLetterARN string
}

// Schedule is an AWS::Scheduler::Schedule.
type Schedule struct {
	LogicalID   string
	Name, ARN   string
	Group       string // "default"
	Description string
	Expression  string
	Timezone    string
	Enabled     bool
	Target      Target
}

// Table is an AWS::DynamoDB::Table.
type Table struct {
	LogicalID    string
	Name, ARN    string
	HashKey      string
	HashKeyType  string // S, N or B
	RangeKey     string // "" when none
	RangeKeyType string
	TTLAttribute string // "" when TTL is off
}

// Secret is an AWS::SecretsManager::Secret.
type Secret struct {
	LogicalID   string
	Name, ARN   string // ARN "" until Env.Known supplies it
	Description string
	// SecretString, or else GenerateSecretString's fields.
	SecretString       string
	Template           string // SecretStringTemplate
	GenerateKey        string // GenerateStringKey
	Length             int    // PasswordLength (default 32)
	ExcludePunctuation bool
}

// Output is one of the template's Outputs.
type Output struct {
	Value       string
	Description string
}
