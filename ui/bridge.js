// Runs as the source panel's js_on_load: a click on a citation link anywhere in the page
// (links carry "#qa-cite-<turn>-<n>") becomes a "click" event of the panel with {cite}.
window.qaShowCitation = (cite) => {
  trigger('click', { cite: cite });
  const box = element.getBoundingClientRect();
  if (box.top < 0 || box.top > window.innerHeight - 80) {
    element.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }
};
if (!window.qaCitationListener) {
  window.qaCitationListener = true;
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a.qa-cite') : null;
    if (!link) return;
    const match = /#qa-cite-\d+-\d+$/.exec(link.getAttribute('href') || '');
    if (!match) return;
    event.preventDefault();
    event.stopPropagation();
    window.qaShowCitation(match[0]);
  }, true);
}
// Bring the highlighted span into view inside the (scrolling) context box of a new source.
watch('value', () => {
  const box = element.querySelector('.qa-context');
  const mark = box && box.querySelector('mark');
  if (mark) box.scrollTop = Math.max(mark.offsetTop - 24, 0);
});
