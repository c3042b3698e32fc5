// Package testfixture is the test fixture shared by the server and client
// tests (internal/server and internal/client): a central home with master
// data of two organisations, its server on loopback, and registered clients
// with their own homes, set up the way `central client add` and
// `credentials import` do it, with helpers to speak to the server and to
// hand results to clients.
//
// Only tests use it; it imports "testing" and fails the test it is given.
package testfixture
