/**
 * Pulumi mock harness for component tests: records every newResource call, makes `call` throw,
 * and captures what each resource waits on twice: the `dependsOn` option it was constructed
 * with (a transformation on the root component sees every descendant) and the dependency URNs
 * the SDK sends in RegisterResource (captured at the mock monitor), which the engine orders by.
 */
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { DevEnv } from "../../components/devenv/devenv";
import type { ResolvedEnv } from "../../lib/spec/model";

export const T = {
  DevEnv: "envctl:devenv:DevEnv",
  WorktreeComponent: "envctl:devenv:Worktree",
  Service: "envctl:devenv:ContainerService",
  Worktree: "pulumi-nodejs:dynamic/envctl:Worktree",
  Network: "pulumi-nodejs:dynamic/envctl:Network",
  Volume: "pulumi-nodejs:dynamic/envctl:Volume",
  Image: "pulumi-nodejs:dynamic/envctl:Image",
  Container: "pulumi-nodejs:dynamic/envctl:Container",
  ProcessComponent: "envctl:devenv:ProcessService",
  Process: "pulumi-nodejs:dynamic/envctl:Process",
  File: "pulumi-nodejs:dynamic/envctl:File",
  Init: "pulumi-nodejs:dynamic/envctl:Init",
  Supervisor: "pulumi-nodejs:dynamic/envctl:Supervisor",
  LocalRoutes: "pulumi-nodejs:dynamic/envctl:LocalRoutes",
} as const;

/** A resource is identified by type and name: a component and its main child share a name. */
export const key = (type: string, name: string): string => `${type}::${name}`;

/** `urn:pulumi:stack::project::parent$type::name` -> key(type, name). */
export function keyOfUrn(urn: string): string {
  const parts = urn.split("::");
  const name = parts.slice(3).join("::");
  const type = parts[2]!.split("$").pop()!;
  return key(type, name);
}

export interface Registration {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
  /** Key of the parent resource, "" for none. */
  parent: string;
  /** Keys of the resources passed in the `dependsOn` option. */
  dependsOn: string[];
  /** Keys of every dependency sent to the engine (explicit and through inputs). */
  rpcDeps: string[];
  /** Input name -> keys of the resources that input's value came from. */
  propertyDeps: Record<string, string[]>;
}

/** The parts of a RegisterResourceRequest the capture reads. */
export interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): {
    forEach(cb: (deps: { getUrnsList(): string[] }, prop: string) => void): void;
  };
  getIgnorechangesList(): string[];
}

export interface Capture {
  regs: Map<string, Registration>;
  calls: string[];
  devenv: DevEnv;
}

/** Resolves an input without asserting inside apply (mocks run with preview=false, so all known). */
export function resolved<T>(value: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => {
    pulumi.output(value).apply((v) => {
      resolve(v as T);
      return v;
    });
  });
}

/** Outputs the mocked handlers would report; everything else echoes the inputs. */
export function stateFor(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  switch (type) {
    case T.Worktree:
      return { ...inputs, baseCommit: "0123456789abcdef0123456789abcdef01234567" };
    case T.Network:
      return { ...inputs, networkId: `net-${name}` };
    case T.Image:
      return { ...inputs, imageId: `sha256:${name}` };
    case T.Container:
      return { ...inputs, containerId: `ctr-${name}` };
    case T.Process:
      return { ...inputs, pid: 4242 };
    default:
      return inputs;
  }
}

/** What the SDK sent in one RegisterResource: parent, dependencies, per-input dependencies. */
export interface SentRegistration {
  parent: string;
  rpcDeps: string[];
  propertyDeps: Record<string, string[]>;
  /** The `ignoreChanges` option, as sent. */
  ignoreChanges: string[];
}

/**
 * Hooks the mock monitor (call after setMocks): every RegisterResource the SDK sends is recorded
 * by key(type, name), with its parent and dependencies as keys, sorted.
 */
export function captureRpc(): Map<string, SentRegistration> {
  const rpc = new Map<string, SentRegistration>();
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: unknown): Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const propertyDeps: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((deps, prop) => {
      propertyDeps[prop] = deps.getUrnsList().map(keyOfUrn).sort();
    });
    rpc.set(key(req.getType(), req.getName()), {
      parent: req.getParent() ? keyOfUrn(req.getParent()) : "",
      rpcDeps: req.getDependenciesList().map(keyOfUrn).sort(),
      propertyDeps,
      ignoreChanges: req.getIgnorechangesList(),
    });
    return register(req, cb);
  };
  return rpc;
}

/**
 * Fresh mocks, then `new DevEnv(name, env)`; resolves once every resource the DevEnv created
 * has its URN, i.e. every RegisterResource round trip finished.
 */
export async function construct(name: string, env: ResolvedEnv): Promise<Capture> {
  const inputs = new Map<
    string,
    { type: string; name: string; custom: boolean; inputs: Record<string, unknown> }
  >();
  const calls: string[] = [];
  await pulumi.runtime.setMocks({
    newResource: (args) => {
      const k = key(args.type, args.name);
      assert.ok(!inputs.has(k), `${k} registered twice`);
      const custom = args.custom ?? false;
      inputs.set(k, {
        type: args.type,
        name: args.name,
        custom,
        inputs: args.inputs as Record<string, unknown>,
      });
      return {
        id: custom ? `${args.name}-id` : undefined,
        state: stateFor(args.type, args.name, args.inputs as Record<string, unknown>),
      };
    },
    call: (args) => {
      calls.push(args.token);
      throw new Error(`unexpected call ${args.token}`);
    },
  });

  const rpc = captureRpc();

  const created: {
    resource: pulumi.Resource;
    key: string;
    dependsOn: pulumi.ResourceOptions["dependsOn"];
  }[] = [];
  const capture: pulumi.ResourceTransformation = (args) => {
    created.push({
      resource: args.resource,
      key: key(args.type, args.name),
      dependsOn: args.opts.dependsOn,
    });
    return undefined;
  };
  const devenv = new DevEnv(name, env, { transformations: [capture] });
  await Promise.all(created.map((c) => resolved(c.resource.urn)));
  await resolved(devenv.outputs);

  const regs = new Map<string, Registration>();
  for (const c of created) {
    const deps = c.dependsOn === undefined ? [] : await resolved(c.dependsOn);
    const list = (Array.isArray(deps) ? deps : [deps]) as pulumi.Resource[];
    const dependsOn = (await Promise.all(list.map((r) => resolved(r.urn)))).map(keyOfUrn).sort();
    const mocked = inputs.get(c.key);
    const sent = rpc.get(c.key);
    assert.ok(mocked && sent, `${c.key} was constructed but never registered`);
    regs.set(c.key, { ...mocked, ...sent, dependsOn });
  }
  assert.equal(regs.size, inputs.size, "every registered resource was created by the DevEnv");
  return { regs, calls, devenv };
}

export function reg(c: Capture, type: string, name: string): Registration {
  const r = c.regs.get(key(type, name));
  assert.ok(r, `no ${key(type, name)}; have ${[...c.regs.keys()].join(", ")}`);
  return r;
}

/** `inputs` without the serialized provider, which is checked on its own. */
export function plain(r: Registration): Record<string, unknown> {
  const { __provider: _provider, ...rest } = r.inputs;
  return rest;
}
