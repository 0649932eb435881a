export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}
export const DEV_CONFIG: string;
export const WELL_KNOWN_S3: S3Credentials;
export function newS3Credentials(): S3Credentials;
export function devConfig(source: string, credentials: S3Credentials, binding?: string): string;
