/**
 * The envctl Pulumi program. One stack per environment; the stack config holds everything the
 * program needs (`envctl:kind` and the resolved env as `envctl:env`), so `pulumi preview` run by
 * hand in this directory plans exactly what `envctl preview` plans.
 */
import * as pulumi from "@pulumi/pulumi";
import { DevEnv } from "../components/devenv/devenv";
import type { ResolvedEnv } from "../lib/spec/model";

const config = new pulumi.Config("envctl");
const kind = config.require("kind");

function build(): pulumi.Output<Record<string, unknown>> {
  switch (kind) {
    case "devenv": {
      const env = config.requireObject<ResolvedEnv>("env");
      return new DevEnv(env.name, env).outputs;
    }
    default:
      throw new Error(`envctl:kind "${kind}" is not one of: devenv`);
  }
}

export const env = build();
