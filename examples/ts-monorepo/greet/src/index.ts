export { greet, type GreetOptions } from "./greet";
export const VERSION = "1.0.0";
