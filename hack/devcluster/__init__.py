"""Local control plane for tests, benchmarks and `make run`: etcd, kube-apiserver, kube-controller-manager and kwok."""
