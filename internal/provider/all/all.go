// Package all registers every provider rotor ships; import it for its side
// effects, as the Lambda functions and the CLI do.
package all

import (
	_ "github.com/rotorhq/rotor/internal/provider/awsiam"   // registers "awsiam"
	_ "github.com/rotorhq/rotor/internal/provider/httpapi"  // registers "httpapi"
	_ "github.com/rotorhq/rotor/internal/provider/mysql"    // registers "mysql"
	_ "github.com/rotorhq/rotor/internal/provider/postgres" // registers "postgres"
	_ "github.com/rotorhq/rotor/internal/provider/random"   // registers "random"
	_ "github.com/rotorhq/rotor/internal/provider/redis"    // registers "redis"
)
