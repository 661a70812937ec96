// Every D1 table, for drizzle-kit and for queries. One file per domain beside this one.
export * from "./probes";
export * from "./operators";
export * from "./auth";
export * from "./events";
export * from "./campaigns";
export * from "./school";
export * from "./ooni";
export * from "./mesh";
export * from "./retention";
export * from "./minions";
export * from "./audit";
