export interface GreetOptions {
  name: string;
  shout?: boolean;
  punctuation?: "." | "!";
}

/** A greeting for `name`; shouted in capitals when asked. */
export function greet({ name, shout = false, punctuation = "!" }: GreetOptions): string {
  const clean = name.trim();
  if (clean === "") throw new Error("greet: name must not be empty");
  const text = `Hello, ${clean}${punctuation}`;
  return shout ? text.toUpperCase() : text;
}
