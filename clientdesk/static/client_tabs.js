// Client page tabs: open the tab named in the address (#contacts, ...) and keep the address in step,
// so a button that posts and comes back (with its #tab) lands on the same tab.
(function () {
  function show(hash) {
    var link = document.querySelector('.client-tabs a[href="' + hash + '"]');
    if (link && window.jQuery) { window.jQuery(link).tab('show'); }
  }
  if (location.hash) { show(location.hash); }
  document.querySelectorAll('.client-tabs a[data-toggle="tab"]').forEach(function (link) {
    link.addEventListener('click', function () { history.replaceState(null, '', link.getAttribute('href')); });
  });
  // Forms on a tab come back to it.
  document.querySelectorAll('.tab-pane form').forEach(function (form) {
    var pane = form.closest('.tab-pane');
    var next = form.querySelector('input[name="next"]');
    if (!next) {
      next = document.createElement('input');
      next.type = 'hidden';
      next.name = 'next';
      form.appendChild(next);
    }
    next.value = location.pathname + location.search + '#' + pane.id;
  });
})();
