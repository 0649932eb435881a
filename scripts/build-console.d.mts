export const OUTPUT: string;
export function buildConsoleModule(): Promise<string>;
