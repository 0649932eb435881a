export const root: string;
export function toolEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
export function bin(name: string): string;
export function run(cmd: string, args: string[], options?: object): Promise<number>;
export function installDependencies(
  cwd: string,
  options?: { stdio?: "inherit" | "ignore" | "pipe"; env?: NodeJS.ProcessEnv },
): number;
