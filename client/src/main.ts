import { mount } from 'svelte';
import App from './ui/App.svelte';
import { boot } from './ui/state/boot.ts';
import './ui/theme.css';

const target = document.getElementById('app')!;
boot()
  .then((app) => mount(App, { target, props: { app } }))
  .catch((e: unknown) => {
    target.textContent = `The chat could not start: ${e instanceof Error ? e.message : String(e)}`;
  });
