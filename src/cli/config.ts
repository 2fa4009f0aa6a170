// Reads LOCAL_DATABASE_URI / REMOTE_DATABASE_URI from the environment, else from the env file; the environment wins.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseEnvFile } from 'dotenv';
import { ConfigurationError } from '../errors.js';

export type Direction = 'local-to-remote' | 'remote-to-local';
export const DIRECTIONS: readonly Direction[] = ['local-to-remote', 'remote-to-local'];

export interface Endpoints {
  local: string;
  remote: string;
}

export interface ResolvedDirection {
  source: string;
  target: string;
  sourceDb: 'local' | 'remote';
  targetDb: 'local' | 'remote';
}

/** Loads the two URIs. `envFile` is optional when it is the default and missing, required when named explicitly. */
export function loadEndpoints(env: NodeJS.ProcessEnv, envFile: string, envFileExplicit: boolean): Endpoints {
  const path = resolve(envFile);
  let fromFile: Record<string, string> = {};
  if (existsSync(path)) {
    try {
      fromFile = parseEnvFile(readFileSync(path));
    } catch (error) {
      throw new ConfigurationError(`cannot read env file ${path}: ${(error as Error).message}`);
    }
  } else if (envFileExplicit) {
    throw new ConfigurationError(`env file ${path} does not exist`);
  }
  const pick = (name: string) => (env[name] !== undefined && env[name] !== '' ? env[name] : fromFile[name]);
  const local = pick('LOCAL_DATABASE_URI');
  const remote = pick('REMOTE_DATABASE_URI');
  const missing = [local ? undefined : 'LOCAL_DATABASE_URI', remote ? undefined : 'REMOTE_DATABASE_URI'].filter(Boolean);
  if (missing.length > 0 || !local || !remote) {
    throw new ConfigurationError(
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set; export ${missing.length > 1 ? 'them' : 'it'} or put ${missing.length > 1 ? 'them' : 'it'} in ${envFile} (postgresql://user:password@host:port/database)`,
    );
  }
  return { local, remote };
}

export function resolveDirection(direction: Direction, endpoints: Endpoints): ResolvedDirection {
  return direction === 'local-to-remote'
    ? { source: endpoints.local, target: endpoints.remote, sourceDb: 'local', targetDb: 'remote' }
    : { source: endpoints.remote, target: endpoints.local, sourceDb: 'remote', targetDb: 'local' };
}
