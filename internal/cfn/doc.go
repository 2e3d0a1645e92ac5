// Package cfn reads a synthesized CloudFormation template into the
// Deployment it declares, as the local endpoint deploys it.
//
// Contract: Load resolves every intrinsic function in every value the
// Deployment holds (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select,
// Fn::Split, Fn::If, Fn::FindInMap and the pseudo parameters) to the names
// and ARNs CloudFormation would give in Env, with Env.Known's values
// winning. It never guesses: an intrinsic, property or section it does not
// model, a reference to nothing, or a value only a service knows (a
// secret's ARN, a function URL) that Env.Known does not give, is an *Error
// naming the resource, the property path and the intrinsic. Resources it
// does not deploy are listed in Deployment.Unmodelled, never dropped. No
// error quotes a value of the template, which may hold a secret.
package cfn
