import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { type ChatTokenizer, OptionError } from '@treespec/core';
import { loadTreespec } from '@treespec/node';
import { BUNDLE_DRAFTERS, type BundleDrafter } from '@treespec/planner';
import { createServer } from '@treespec/server';
import { ChatTemplateError } from '@treespec/tokenizers';
import { type Command, InvalidArgumentError } from 'commander';
import { addModelFlags, integer, loadOptions, type ModelFlags, modelDirectory } from './generation-flags.js';

interface ServeFlags extends ModelFlags {
  host: string;
  port: number;
  apiKey?: string;
  queue: number;
  modelId?: string;
  chatTemplate?: string;
  maxTokensLimit: number;
  drafters?: BundleDrafter[];
}

const LOADABLE = BUNDLE_DRAFTERS.filter((name) => name !== 'none');

function drafterList(value: string): BundleDrafter[] {
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(LOADABLE as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`expected a comma-separated list of ${LOADABLE.join(', ')}`);
    }
  }
  return names as BundleDrafter[];
}

/**
 * Resolves on the first SIGINT or SIGTERM. A later SIGTERM is the same request (a service manager
 * signals every process of the service, and the `treespec` command's huge-page relaunch passes it
 * on as well) and is ignored; a second SIGINT (Ctrl-C twice) ends the process at once. The
 * handlers stay installed throughout: removing one would give a signal arriving in between the
 * default action, which ends the process.
 */
function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (!stopping) {
        stopping = true;
        resolve(signal);
      } else if (signal === 'SIGINT') {
        process.exit(130);
      }
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** The error a chat prompt meets when the tokenizer has no chat template, else null. */
function chatTemplateMissing(tokenizer: ChatTokenizer): ChatTemplateError | null {
  try {
    tokenizer.encodeChat([{ role: 'user', content: 'Hello.' }]);
    return null;
  } catch (error) {
    if (error instanceof ChatTemplateError) return error;
    throw error;
  }
}

/** `treespec serve`: an OpenAI-compatible HTTP server over the model until SIGINT or SIGTERM. */
export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description(
      'serve the model over an OpenAI-compatible HTTP API: /v1/chat/completions, /v1/completions, /v1/models, /metrics',
    );
  addModelFlags(command)
    .option('--host <address>', 'address to bind (0.0.0.0 exposes the server to the network)', '127.0.0.1')
    .option('--port <n>', 'port to listen on, in [0, 65535] (0: any free port)', integer(0, 65535), 8000)
    .option(
      '--api-key <key>',
      'require "Authorization: Bearer <key>" on every route but /health and /metrics (default: $TREESPEC_API_KEY if set)',
    )
    .option('--queue <n>', 'requests that may wait behind the running one; more get HTTP 429', integer(0), 64)
    .option('--model-id <id>', 'the model name clients send (default: the model directory’s name)')
    .option('--chat-template <file>', 'a Jinja chat template for a model whose tokenizer config has none')
    .option('--max-tokens-limit <n>', 'largest max_tokens a request may ask for', integer(1), 4096)
    .option(
      '--drafters <list>',
      'comma-separated drafters to load besides --drafter; a request picks one with {"treespec": {"drafter": name}}',
      drafterList,
    )
    .action(async (flags: ServeFlags, cmd: Command) => {
      const err = cmd.parent!.configureOutput().writeErr!;
      const apiKey = flags.apiKey ?? process.env['TREESPEC_API_KEY'];
      // An empty key (an empty variable in a service file) would otherwise serve without one.
      if (apiKey !== undefined && apiKey.trim() === '') {
        throw new OptionError(
          flags.apiKey !== undefined ? '--api-key' : 'TREESPEC_API_KEY',
          apiKey,
          'a non-empty key; unset it to serve without a key',
        );
      }
      const directory = modelDirectory(flags);
      const generator = await loadTreespec(directory, {
        ...(await loadOptions(flags, flags.drafters ?? [], err)),
        ...(flags.chatTemplate ? { chatTemplate: await readFile(flags.chatTemplate, 'utf8') } : {}),
      });
      // A template given that cannot render a chat is refused before serving, as `convert` refuses it.
      const broken = flags.chatTemplate ? chatTemplateMissing(generator.tokenizer) : null;
      if (broken) {
        await generator.dispose();
        throw new OptionError(
          '--chat-template',
          flags.chatTemplate,
          `a template that renders a chat (${broken.message})`,
        );
      }
      const modelId = flags.modelId ?? basename(directory.replace(/[\\/]+$/, ''));
      const server = createServer(generator, {
        modelId,
        maxQueue: flags.queue,
        maxTokensLimit: flags.maxTokensLimit,
        ...(apiKey !== undefined ? { apiKey } : {}),
      });
      const stopped = untilStopped();
      try {
        const url = await server.listen({ host: flags.host, port: flags.port });
        err(
          `treespec: serving "${modelId}" at ${url}/v1 (drafter: ${generator.drafter?.name ?? 'none'}); Ctrl-C stops\n`,
        );
        const missing = chatTemplateMissing(generator.tokenizer);
        if (missing) {
          err(
            `treespec: a one-message chat fails with this model's tokenizer (${missing.message}), so ` +
              '/v1/chat/completions will refuse requests: give a template with --chat-template <file>, ' +
              'or use /v1/completions\n',
          );
        }
        const signal = await stopped;
        err(`treespec: ${signal}: finishing the running request, then stopping\n`);
        await server.close();
      } finally {
        await generator.dispose();
      }
    });
}
