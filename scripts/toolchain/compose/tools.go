//go:build tools

// Package tools pins Docker Compose v2, built by scripts/setup as the Docker CLI plugin.
package tools

import _ "github.com/docker/compose/v2/cmd"
