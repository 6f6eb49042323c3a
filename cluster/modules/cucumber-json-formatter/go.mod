// Wrapper module: Cucumber's json-formatter (messages -> cucumber JSON) v19.0.0. `go install pkg@version`
// cannot be used: the proxy refuses the module's version list, which go install reads for deprecations.
module kfcheck.local/cluster/cucumber-json-formatter

go 1.26.0

tool github.com/cucumber/common/json-formatter/go/v19/cmd

require (
	github.com/cucumber/common/json-formatter/go/v19 v19.0.0 // indirect
	github.com/cucumber/common/messages/go/v17 v17.0.0 // indirect
	github.com/gofrs/uuid v4.0.0+incompatible // indirect
)
