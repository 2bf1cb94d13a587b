package client

import exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"

// This file is yours, like the example API it serves: rename it for your
// API, or delete it with the example.

// Greeter is the example API through c: every call is balanced, retried when
// its proto allows, and falls back as c's options say.
func (c *Client) Greeter() exampleservicev1.GreeterClient {
	return exampleservicev1.NewGreeterClient(c.conn)
}
