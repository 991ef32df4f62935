// Command etcd is upstream etcd, built from the module proxy for conveyor's
// test control plane. It mirrors go.etcd.io/etcd/server/v3's main.go exactly.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
