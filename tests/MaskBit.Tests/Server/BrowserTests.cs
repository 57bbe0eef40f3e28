using MaskBit.Imaging;
using MaskBit.Pipeline;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Interactions;
using OpenQA.Selenium.Support.UI;

namespace MaskBit.Tests.Server;

/// <summary>Runs only where Debian's chromium and chromium-driver are installed (<c>.ci/run</c> installs them).</summary>
public sealed class ChromeFactAttribute : FactAttribute
{
    public const string Browser = "/usr/bin/chromium", Driver = "/usr/bin/chromedriver";

    public ChromeFactAttribute()
    {
        if (!File.Exists(Browser) || !File.Exists(Driver)) Skip = "chromium not found (apt-get install chromium chromium-driver)";
    }
}

/// <summary>
/// The page in a real browser (headless Debian chromium through its chromedriver, nothing downloaded): it generates
/// step by step, inpaints a dragged box, flips the bits of a clicked token and interpolates, and every image it shows equals the
/// API's answer to the request the page says it made. Set <c>MASKBIT_SCREENSHOT</c> to a PNG path to keep a screenshot.
/// </summary>
[Collection(ServerCollection.Name)]
public class BrowserTests(BundledPipeline bundled)
{
    readonly MaskBitPipeline p = bundled.Pipeline;

    [ChromeFact]
    public async Task ThePageGeneratesInpaintsAndFlipsBits()
    {
        var (server, client) = await Servers.Kestrel(p);
        await using var _ = server;
        using var __ = client;
        Environment.SetEnvironmentVariable("SE_OFFLINE", "true");  // Selenium Manager must not fetch a driver
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeFactAttribute.Driver), Path.GetFileName(ChromeFactAttribute.Driver));
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = ChromeFactAttribute.Browser };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,1900");
        using var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(60));
        IWebElement By(string id) => driver.FindElement(OpenQA.Selenium.By.Id(id));
        void Set(string id, string value) { By(id).Clear(); By(id).SendKeys(value); }

        driver.Navigate().GoToUrl(server.Address);
        wait.Until(_ => By("model").Text.Contains("10 classes"));
        Assert.Equal(p.Sampling.NumSteps.ToString(), By("steps").GetAttribute("value"));

        // Generate: 8 steps, the grid replaced step by step, and the final one the API's for the page's request.
        Set("steps", "8");
        Set("per-class", "2");
        By("generate").Click();
        wait.Until(_ => By("gen-status").Text.StartsWith("done"));
        // Every step is sent; a client slower than the model gets the newest ones (the server keeps two).
        int frames = int.Parse(By("grid").GetAttribute("data-frames") ?? "0");
        Assert.InRange(frames, 2, 8 * 3);  // 20 images: 3 batches of 8 steps
        var events = await Servers.Events(await client.GetAsync("/api/generate/stream?" + By("grid").GetAttribute("data-query")));
        Servers.Same(Servers.DataUrl(events[^1].Data.GetProperty("image").GetString()!), Servers.DataUrl(By("grid").GetAttribute("src")));

        // A sample to edit, a box dragged over its top-left, inpainted as class 8 (Bag).
        By("sample").Click();
        wait.Until(_ => By("region").Text.StartsWith("no region"));
        var source = Shown(driver, "source");
        var overlay = By("overlay");
        int side = overlay.Size.Width;
        new Actions(driver).MoveToElement(overlay, -side / 2 + 2, -side / 2 + 2).ClickAndHold().MoveByOffset(side / 2, side / 3).Release().Perform();
        var region = By("region").Text;
        Assert.StartsWith("box ", region);
        driver.FindElement(OpenQA.Selenium.By.CssSelector("#edit-class option[value='8']")).Click();
        By("inpaint").Click();
        wait.Until(_ => By("edit-status").Text.StartsWith("inpainted"));
        var expected = await Servers.Png(await client.PostAsync("/api/inpaint", Servers.Form(
            [("box", region["box ".Length..]), ("class", "8"), ("seed", "42"), ("steps", "8")], ("image", Images.EncodePng(source)))));
        Servers.Same(expected, Shown(driver, "result"));

        // Flip bits 0 and 3 of the token under a click near the bottom-right.
        driver.FindElement(OpenQA.Selenium.By.CssSelector("input[name=tool][value=flip]")).Click();
        Set("bits", "0,3");
        new Actions(driver).MoveToElement(overlay, side / 2 - 3, side / 2 - 3).Click().Perform();
        wait.Until(_ => By("edit-status").Text.StartsWith("flipped"));
        var token = By("region").Text;
        Assert.Matches(@"^token \(7, 7\): box 28,28,32,32$", token);
        var flipped = await Servers.Png(await client.PostAsync("/api/bitflip", Servers.Form(
            [("box", "28,28,32,32"), ("bits", "0,3")], ("image", Images.EncodePng(source)))));
        Servers.Same(flipped, Shown(driver, "result"));
        Assert.False(flipped.Pixels.SequenceEqual(source.Pixels), "flipping two bits changed nothing");

        // Interpolate from the edited image to a sample of another class.
        By("sample-to").Click();
        wait.Until(_ => By("interpolate").Enabled);
        Set("points", "5");
        By("interpolate").Click();
        wait.Until(_ => By("path-status").Text.Contains("images along the path"));
        var path = await Servers.Png(await client.PostAsync("/api/interpolate", Servers.Form([("steps", "5")],
            ("from", Images.EncodePng(source)), ("to", Images.EncodePng(Shown(driver, "to"))))));
        Servers.Same(path, Shown(driver, "path"));

        if (Environment.GetEnvironmentVariable("MASKBIT_SCREENSHOT") is { Length: > 0 } shot)
            driver.GetScreenshot().SaveAsFile(shot);
    }

    // The pixels an <img> shows, drawn by the page onto a canvas and read back as a (lossless) PNG.
    static RgbImage Shown(IWebDriver driver, string id)
    {
        var url = (string)((IJavaScriptExecutor)driver).ExecuteScript("""
            const img = document.getElementById(arguments[0]);
            const c = document.createElement("canvas");
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            c.getContext("2d").drawImage(img, 0, 0);
            return c.toDataURL("image/png");
            """, id);
        return Servers.DataUrl(url);
    }
}
