// Driving the explorer's GraphiQL 4 in a real browser page: its CodeMirror 5 editors (query,
// headers, result), the run button, and waiting for what the result pane shows.
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import { BROWSER_TIMEOUT } from './browser.ts';
import { pollUntil } from './poll-until.ts';

/** The element CodeMirror 5 (GraphiQL 4's editor) mounts on carries the editor instance. */
interface CodeMirrorElement {
  CodeMirror: {
    getValue(): string;
    setValue(value: string): void;
    focus(): void;
    setCursor(pos: { line: number; ch: number }): void;
  };
}

/** What GraphiQL's query editor adds: the parsed text it runs, set 100 ms after each edit. */
interface QueryEditorElement {
  CodeMirror: { getValue(): string; documentAST?: { loc?: { source: { body: string } } } | null };
}

export interface EditorHandle {
  get(): Promise<string>;
  set(value: string): Promise<void>;
  focusAt(line: number, ch: number): Promise<void>;
}

export function editor(locator: Locator): EditorHandle {
  const cm = locator.locator('.CodeMirror').first();
  return {
    get: () => cm.evaluate((el) => (el as unknown as CodeMirrorElement).CodeMirror.getValue()),
    set: (value: string) => cm.evaluate((el, v) => (el as unknown as CodeMirrorElement).CodeMirror.setValue(v), value),
    focusAt: (line: number, ch: number) => cm.evaluate((el, pos) => {
      const instance = (el as unknown as CodeMirrorElement).CodeMirror;
      instance.focus();
      instance.setCursor(pos);
    }, { line, ch }),
  };
}

export function graphiql(page: Page) {
  const queryEditor = () => editor(page.locator('.graphiql-query-editor'));
  const resultPane = () => editor(page.locator('.graphiql-response'));
  const executeButton = () => page.locator('button.graphiql-execute-button');
  return {
    queryEditor,
    resultPane,
    executeButton,
    /** The Headers tab's editor (the tab must be open). */
    headersEditor: () => editor(page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)')),
    /**
     * Replaces the query and waits until GraphiQL has parsed it: GraphiQL picks the operation to
     * run from a parse it makes 100 ms after an edit, and a run started earlier would send the
     * previous query's operation name.
     */
    async setQuery(query: string): Promise<void> {
      await queryEditor().set(query);
      const el = await page.locator('.graphiql-query-editor .CodeMirror').first().elementHandle();
      await page.waitForFunction((e) => {
        const cm = (e as unknown as QueryEditorElement).CodeMirror;
        return cm.documentAST?.loc?.source.body === cm.getValue();
      }, el, { timeout: BROWSER_TIMEOUT, polling: 20 }).catch((err: Error) => {
        throw new Error(`GraphiQL did not parse the query; is it valid GraphQL?\n${query}\n(${err.message.split('\n')[0]})`);
      });
    },
    /**
     * Runs one operation of a document that has several: the run button then offers them in a
     * menu, and this picks the one named.
     */
    async runOperation(name: string): Promise<void> {
      await executeButton().click();
      await page.getByRole('menuitem', { name, exact: true }).click();
    },
    /** Polls until the result pane contains `text`; on timeout the message shows what it did contain. */
    async waitForResult(text: string): Promise<string> {
      let value = '';
      return pollUntil(`the result pane to show ${JSON.stringify(text)}`, async () => {
        value = await resultPane().get();
        return value.includes(text) ? value : undefined;
      }, { timeoutMs: BROWSER_TIMEOUT, detail: () => `it shows:\n${value}` });
    },
  };
}
