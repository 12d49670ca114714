import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import { describe, expect, it } from 'vitest';
import { runProgram } from '../src/index.js';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const TEMPLATE = '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}';

/** Starts `treespec serve` and resolves with the process and the URL it prints. */
async function startServe(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const match = /at (http:\/\/\S+)\/v1/.exec(err);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`treespec serve exited with ${code}: ${err}`)));
  });
  return { child, url, stderr: () => err };
}

/** The process `treespec` relaunched itself as (Linux), or null when it runs in `pid` itself. */
async function relaunchedChild(pid: number): Promise<number | null> {
  try {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim();
    return children ? Number(children.split(/\s+/)[0]) : null;
  } catch {
    return null;
  }
}

describe('treespec serve', () => {
  it('refuses, before serving, a --chat-template that cannot render a chat', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'treespec-serve-'));
    try {
      const broken = join(dir, 'broken.jinja');
      await writeFile(broken, '{{ nope() }}');
      const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--chat-template', broken], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
      });
      const [code] = await once(child, 'exit');
      expect(code).toBe(1);
      expect(err).toMatch(
        /^error: option "--chat-template" must be a template that renders a chat \(.*failed to render/,
      );
      expect(err).not.toContain('serving');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('serves the embedded model on 127.0.0.1 with a chat template and an API key, and stops cleanly on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'treespec-serve-'));
    const templateFile = join(dir, 'template.jinja');
    await writeFile(templateFile, TEMPLATE);
    const { child, url, stderr } = await startServe([
      '--api-key',
      'k3y',
      '--chat-template',
      templateFile,
      '--model-id',
      'tiny',
    ]);
    try {
      expect(new URL(url).hostname).toBe('127.0.0.1');
      const ask = (key: string) =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({
            model: 'tiny',
            messages: [{ role: 'user', content: 'Once upon a time' }],
            max_tokens: 16,
            temperature: 0,
          }),
        });
      expect((await ask('wrong')).status).toBe(401);
      const reply = (await (await ask('k3y')).json()) as { choices: [{ message: { content: string } }] };
      const generator = await loadTreespec(tinyModelDirectory(), { chatTemplate: TEMPLATE });
      const expected = await generator.generate([{ role: 'user', content: 'Once upon a time' }], {
        maxTokens: 16,
        temperature: 0,
      });
      await generator.dispose();
      expect(reply.choices[0].message.content).toBe(expected.text);
    } finally {
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      await rm(dir, { recursive: true, force: true });
      expect(code).toBe(0);
      expect(stderr()).toMatch(/SIGTERM: finishing the running request, then stopping/);
    }
  }, 120_000);

  it('completes a prompt with the same greedy text as treespec generate, with each loaded drafter, chats with the bundle’s template, and finishes a running request through SIGTERM sent twice', async () => {
    let out = '';
    const code = await runProgram(
      ['node', 'treespec', 'generate', 'Once upon a time', '-n', '24', '--json'],
      {
        out: (text) => {
          out += text;
        },
        err: () => {},
      },
    );
    expect(code).toBe(0);
    const generated = JSON.parse(out) as { text: string };
    const { child, url, stderr } = await startServe(['--drafters', 'lookup,suffix']);
    try {
      for (const drafter of ['hybrid', 'lookup', 'suffix', 'none']) {
        const reply = await fetch(`${url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'tiny',
            prompt: 'Once upon a time',
            max_tokens: 24,
            temperature: 0,
            treespec: { drafter },
          }),
        });
        const body = (await reply.json()) as {
          model: string;
          choices: [{ text: string }];
          treespec: { drafter: string };
        };
        expect(body.model).toBe('tiny');
        expect(body.treespec.drafter).toBe(drafter);
        expect(body.choices[0].text).toBe(generated.text);
      }
      // The embedded bundle carries its own chat template: chat needs no --chat-template.
      const chat = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'tiny',
          messages: [{ role: 'user', content: 'Once upon a time' }],
          max_tokens: 8,
        }),
      });
      expect(chat.status).toBe(200);
      const answer = (await chat.json()) as { choices: [{ message: { content: string } }] };
      expect(answer.choices[0].message.content.length).toBeGreaterThan(0);
      expect(stderr()).not.toMatch(/a one-message chat fails/);

      // SIGTERM twice during a running request, as a service manager that signals every process
      // of the service does (the server gets it from there and from the huge-page relaunch's
      // parent passing it on): the second, once stopping has begun, is the same request, so the
      // running one still finishes and the server exits cleanly.
      const running = await fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'tiny',
          prompt: 'Once upon a time',
          max_tokens: 400,
          temperature: 0,
          stream: true,
        }),
      });
      const reader = running.body!.getReader();
      const decoder = new TextDecoder();
      let streamed = decoder.decode((await reader.read()).value);
      const server = (await relaunchedChild(child.pid!)) ?? child.pid!;
      process.kill(server, 'SIGTERM');
      while (!/SIGTERM: finishing the running request/.test(stderr())) await setTimeout(5);
      child.kill('SIGTERM');
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        streamed += decoder.decode(chunk.value);
      }
      expect(streamed, streamed.slice(-600)).toMatch(/"finish_reason":"length"/);
      expect(streamed.trimEnd().endsWith('data: [DONE]')).toBe(true);
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(stderr()).toMatch(/SIGTERM: finishing the running request, then stopping/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
  }, 120_000);
});
