/** The shape of one resource handler, shared by every handler module. */
import { changedKeys } from "../core/canonical";
import { engineOf } from "../docker/client";

export type Props = Record<string, unknown>;

export interface CreateResult {
  id: string;
  outs: Props;
}
export interface DiffResult {
  changes: boolean;
  replaces?: string[];
  deleteBeforeReplace?: boolean;
}
export interface Handler {
  create(inputs: Props): Promise<CreateResult>;
  diff(id: string, olds: Props, news: Props): Promise<DiffResult>;
  update?(id: string, olds: Props, news: Props): Promise<{ outs: Props }>;
  delete(id: string, props: Props): Promise<void>;
  read?(id: string, props: Props): Promise<{ id: string; props: Props } | undefined>;
}

/**
 * The keys whose values differ between two input bags; a resource's `dockerHost` is compared as
 * the engine it names (engineOf): another machine's key file for the same host changes nothing.
 */
export function differs(olds: Props, news: Props, keys?: string[]): string[] {
  const engine = (p: Props): Props =>
    typeof p.dockerHost === "string" ? { ...p, dockerHost: engineOf(p.dockerHost) } : p;
  return changedKeys(engine(olds), engine(news), keys);
}

export function replaceOnAnyChange(keys: string[]): Handler["diff"] {
  return (_id, olds, news) => {
    const replaces = differs(olds, news, keys);
    return Promise.resolve({ changes: replaces.length > 0, replaces, deleteBeforeReplace: true });
  };
}
