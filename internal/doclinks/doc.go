// Package doclinks holds no code, only the test that every relative link in the README, bench/README.md and
// docs/ leads to a file of the repository (and, with a #fragment, to a heading of that file): the repository
// explains itself, so a link that leads nowhere is a hole in that explanation.
package doclinks
