/** The shape of one resource handler, shared by every handler module. */
import { changedKeys } from "../core/canonical";

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

export function replaceOnAnyChange(keys: string[]): Handler["diff"] {
  return (_id, olds, news) => {
    const replaces = changedKeys(olds, news, keys);
    return Promise.resolve({ changes: replaces.length > 0, replaces, deleteBeforeReplace: true });
  };
}
