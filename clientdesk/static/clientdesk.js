// Every admin page loads this file (templates/admin/clientdesk_base.html). The Content Security Policy allows no
// inline script and no on*= handler, so what Flask-Admin's templates did inline is done here.
(function () {
  // Flask-Admin's base template writes <html> without a language: give it the interface's.
  document.documentElement.lang = document.currentScript.dataset.language;

  document.addEventListener('click', function (event) {
    var confirmed = event.target.closest('[data-confirm]');
    if (confirmed && !window.confirm(confirmed.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    var listAction = event.target.closest('[data-list-action]');  // templates/admin/actions.html
    if (listAction) {
      event.preventDefault();
      window.modelActions.execute(listAction.dataset.listAction);
      return;
    }
    var addInline = event.target.closest('.inline-field > a.btn[id$="-button"]');  // "Add Contact" under inline rows
    if (addInline) {
      event.preventDefault();
      window.faForm.addInlineField(addInline, addInline.parentElement.id);
      return;
    }
    if (event.target.closest('a[href="javascript:void(0)"]')) {  // Flask-Admin's menu and filter links: no navigation
      event.preventDefault();
    }
  });
})();
