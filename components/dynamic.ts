import * as pulumi from "@pulumi/pulumi";

/**
 * A dynamic provider whose serialized form is only a trampoline: each method loads
 * lib/providers from the envctl checkout at run time (ENVCTL_ROOT, or the project directory the
 * engine runs plugins in). Handler code can change without every resource showing a diff.
 */
export function trampoline(kind: string): pulumi.dynamic.ResourceProvider {
  const load = (): Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>> => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const p = require("path") as typeof import("path");
    const root = process.env.ENVCTL_ROOT || process.cwd();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(p.join(root, "dist", "lib", "providers", "index.js")) as { handlers: never }).handlers;
  };
  return {
    create: (inputs) => load()[kind]!.create!(inputs) as Promise<pulumi.dynamic.CreateResult>,
    diff: (id, olds, news) => load()[kind]!.diff!(id, olds, news) as Promise<pulumi.dynamic.DiffResult>,
    update: (id, olds, news) => {
      const h = load()[kind]!;
      return (h.update ? h.update(id, olds, news) : Promise.reject(new Error(`${kind} cannot be updated in place`))) as Promise<pulumi.dynamic.UpdateResult>;
    },
    delete: (id, props) => load()[kind]!.delete!(id, props) as Promise<void>,
    read: async (id, props) => {
      const h = load()[kind]!;
      if (!h.read) return { id, props };
      const res = (await h.read(id, props)) as pulumi.dynamic.ReadResult | undefined;
      return res ?? { id: undefined as unknown as string, props: {} };
    },
  };
}

/** A real object managed by one of envctl's handlers; `type` becomes `pulumi-nodejs:dynamic/envctl:<type>`. */
export class EnvctlResource extends pulumi.dynamic.Resource {
  constructor(type: string, kind: string, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super(trampoline(kind), name, props, opts, "envctl", type);
  }

  /** The output the engine registered for `key` (every key of the props bag gets one). */
  output<T>(key: string): pulumi.Output<T> {
    const value = (this as unknown as Record<string, unknown>)[key];
    if (!pulumi.Output.isInstance(value)) throw new Error(`${key} is not an output of this resource`);
    return value as pulumi.Output<T>;
  }
}
