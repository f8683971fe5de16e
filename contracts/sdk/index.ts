// The Hallmark contract SDK for AssemblyScript. A method is an exported function with no
// parameters and no results; it reads its arguments with Args.input() and answers with
// new Values()...ret(). See docs/contracts.md.
export * from "./bytes";
export * from "./env";
export * from "./abi";
export * from "./storage";
