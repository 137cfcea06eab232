// Package server is a Meridian server: the Raft replicas of its datacenter's
// shards (through package raftnode) and the JSON-RPC handlers that read and
// write them.
//
//	srv, err := server.New(cfg) // starts the replicas
//	defer srv.Close()
//	api := rpc.NewServer(rpc.DefaultServerConfig())
//	srv.Register(api)            // kv.*, status.*
//	http.ListenAndServe(addr, api)
//
// Handlers reach Raft only through the Raft interface below; the state
// machines (package kv) are pure and know nothing of either.
package server
